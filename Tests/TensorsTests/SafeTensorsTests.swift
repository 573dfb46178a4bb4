import Foundation
import Tensors
import XCTest

final class SafeTensorsTests: XCTestCase {
  /// A file image from a header object and raw data bytes.
  func fileBytes(header: String, data: [UInt8], claimedHeaderLength: UInt64? = nil) -> Data {
    var out = Data()
    var n = (claimedHeaderLength ?? UInt64(header.utf8.count)).littleEndian
    withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
    out.append(Data(header.utf8))
    out.append(contentsOf: data)
    return out
  }

  func expectError(_ data: Data, _ expected: (SafeTensorsError) -> Bool, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try SafeTensorsFile(data: data), file: file, line: line) { error in
      guard let e = error as? SafeTensorsError else { return XCTFail("not a SafeTensorsError: \(error)", file: file, line: line) }
      XCTAssertTrue(expected(e), "unexpected error: \(e)", file: file, line: line)
      XCTAssertFalse(e.description.isEmpty)
    }
  }

  func testRoundTrip() throws {
    let a = Tensor.randomNormal([2, 3, 4], seed: 1), b = Tensor(scalar: 7), empty = Tensor(zeros: [0, 5])
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("redub-roundtrip-\(UUID()).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try SafeTensors.write(["a": a, "b": b, "empty": empty], metadata: ["format": "test", "size": "64"], to: url)
    let file = try SafeTensorsFile(contentsOf: url)
    XCTAssertEqual(file.names, ["a", "b", "empty"])
    XCTAssertEqual(file.metadata, ["format": "test", "size": "64"])
    XCTAssertEqual(try file.tensor("a").scalars, a.scalars)
    XCTAssertEqual(try file.tensor("a").shape, [2, 3, 4])
    XCTAssertEqual(try file.tensor("b").shape, [])
    XCTAssertEqual(try file.tensor("empty").shape, [0, 5])
    XCTAssertThrowsError(try file.tensor("c")) { XCTAssertEqual($0 as? SafeTensorsError, .missingTensor("c")) }
  }

  func testOtherDTypesAreConverted() throws {
    // F16: 1.0 = 0x3C00, -2.5 = 0xC100, 65504 = 0x7BFF, smallest subnormal 0x0001 = 2^-24.
    // BF16: 1.0 = 0x3F80, -3.0 = 0xC040.
    let header = #"{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"# +
      #""bf":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"# +
      #""i64":{"dtype":"I64","shape":[2],"data_offsets":[12,28]},"# +
      #""i32":{"dtype":"I32","shape":[1],"data_offsets":[28,32]},"# +
      #""u8":{"dtype":"U8","shape":[2],"data_offsets":[32,34]}}"#
    var data: [UInt8] = [0x00, 0x3C, 0x00, 0xC1, 0xFF, 0x7B, 0x01, 0x00, 0x80, 0x3F, 0x40, 0xC0]
    data += [5, 0, 0, 0, 0, 0, 0, 0] + [0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]  // 5, -2
    data += [0x39, 0x30, 0, 0]  // 12345
    data += [7, 255]
    let file = try SafeTensorsFile(data: fileBytes(header: header, data: data))
    XCTAssertEqual(try file.tensor("h").scalars, [1, -2.5, 65504, Float(sign: .plus, exponent: -24, significand: 1)])
    XCTAssertEqual(try file.tensor("bf").scalars, [1, -3])
    XCTAssertEqual(try file.integers("i64").values, [5, -2])
    XCTAssertEqual(try file.integers("i32").values, [12345])
    XCTAssertEqual(try file.integers("u8").values, [7, 255])
    XCTAssertThrowsError(try file.tensor("u8"))
    XCTAssertThrowsError(try file.integers("h"))
  }

  func testMalformedFilesGiveClearErrors() {
    let good = #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
    let eight = [UInt8](repeating: 0, count: 8)
    expectError(Data([1, 2, 3])) { if case .truncated = $0 { return true } else { return false } }
    expectError(fileBytes(header: good, data: eight, claimedHeaderLength: 1 << 40)) {
      if case .headerTooLarge = $0 { return true } else { return false }
    }
    expectError(fileBytes(header: "{not json", data: eight)) { if case .malformedHeader = $0 { return true } else { return false } }
    expectError(fileBytes(header: "[1, 2]", data: eight)) { if case .malformedHeader = $0 { return true } else { return false } }
    expectError(fileBytes(header: #"{"a":{"dtype":"F32","shape":[2]}}"#, data: eight)) {
      if case .malformedHeader = $0 { return true } else { return false }
    }
    expectError(fileBytes(header: #"{"a":{"dtype":"F99","shape":[2],"data_offsets":[0,8]}}"#, data: eight)) {
      $0 == .unsupportedDType(tensor: "a", dtype: "F99")
    }
    expectError(fileBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: eight)) {
      if case .badOffsets(tensor: "a", _) = $0 { return true } else { return false }
    }
    expectError(fileBytes(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight)) {
      if case .badOffsets(tensor: "a", _) = $0 { return true } else { return false }
    }
    // The data section cut short (a partial copy).
    expectError(fileBytes(header: good, data: [0, 0, 0, 0])) { if case .truncated = $0 { return true } else { return false } }
    expectError(fileBytes(header: #"{"__metadata__":{"k":3}}"#, data: [])) {
      if case .malformedHeader = $0 { return true } else { return false }
    }
  }

  func testUnreadablePath() {
    XCTAssertThrowsError(try SafeTensorsFile(contentsOf: URL(fileURLWithPath: "/nonexistent/model.safetensors"))) {
      guard case .unreadable = $0 as? SafeTensorsError else { return XCTFail("\($0)") }
    }
  }

  func testDeterministicFillMatchesReferenceBitForBit() throws {
    let spec = try FillSpecification(json: XCTUnwrap(Fixtures.reference.metadata["fill"]))
    XCTAssertEqual(spec.entries.count, 4)
    for name in spec.entries.keys {
      let ours = try XCTUnwrap(spec.tensor(name))
      let reference = try Fixtures.reference.tensor("fill." + name)
      XCTAssertEqual(ours.shape, reference.shape, name)
      XCTAssertEqual(ours.scalars.map(\.bitPattern), reference.scalars.map(\.bitPattern), "fill of \(name) differs")
    }
  }

  func testFillSpecificationsOfSharedFixturesParse() throws {
    // The real specs (when the shared folder is beside the checkout) parse completely.
    let shared = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .appendingPathComponent("../../../shared/fixtures/ref_fan4.safetensors").standardized
    guard FileManager.default.fileExists(atPath: shared.path) else { return }
    let file = try SafeTensorsFile(contentsOf: shared)
    let spec = try FillSpecification(json: XCTUnwrap(file.metadata["fill"]))
    XCTAssertGreaterThan(spec.entries.count, 100)
  }
}
