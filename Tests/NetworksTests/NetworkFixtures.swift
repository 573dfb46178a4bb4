import Foundation
import Tensors
import TestSupport
import XCTest

/// The reference fixtures of shared/fixtures (copied into Fixtures/) and their filled weights.
enum NetworkFixtures {
  static func url(_ name: String) -> URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name)
  }

  static func open(_ name: String) throws -> SafeTensorsFile {
    try SafeTensorsFile(contentsOf: url(name))
  }

  /// The fixture's `fill` metadata: every reference parameter set by the fill formula.
  static func fill(_ file: SafeTensorsFile) throws -> FillSpecification {
    try FillSpecification(json: XCTUnwrap(file.metadata["fill"], "fixture has no fill metadata"))
  }

  /// Loads `layer` strictly from the fixture's filled weights under the reference's own key
  /// names (with `prefix.` before each fill name, and `extra` tensors beside them), through an
  /// in-memory safetensors file: a parameter name that differs from the reference's, a missing
  /// or an unused one, or a shape mismatch fails the load.
  static func loadFilled(
    _ layer: any Layer, from fixture: SafeTensorsFile, prefix: String = "", extra: [String: Tensor] = [:]
  ) throws {
    let spec = try fill(fixture)
    var tensors = extra
    for name in spec.entries.keys { tensors[prefix + name] = try XCTUnwrap(spec.tensor(name)) }
    try layer.load(from: SafeTensorsFile(data: SafeTensors.serialize(tensors)))
  }

  /// The same strict check without serializing (for networks of hundreds of megabytes): the
  /// layer's names and shapes must equal the fill's exactly; then each value is generated and
  /// assigned one at a time.
  static func assignFilled(_ layer: any Layer, from fixture: SafeTensorsFile) throws {
    let spec = try fill(fixture)
    let own = Dictionary(layer.namedParameters.map { ($0.name, $0.parameter) }, uniquingKeysWith: { a, _ in a })
    let missing = Set(own.keys).subtracting(spec.entries.keys).sorted()
    let unused = Set(spec.entries.keys).subtracting(own.keys).sorted()
    if let first = missing.first { throw WeightLoadingError.missingKey(first) }
    if !unused.isEmpty { throw WeightLoadingError.unusedKeys(unused) }
    for (name, entry) in spec.entries {
      guard let parameter = own[name] else { continue }
      guard parameter.shape == entry.shape else {
        throw WeightLoadingError.shapeMismatch(key: name, expected: parameter.shape, found: entry.shape)
      }
    }
    for (name, parameter) in own {
      parameter.value = try XCTUnwrap(spec.tensor(name))
    }
  }
}

/// Asserts that `actual` matches the reference within `tolerance` of the fixtures' measure and
/// returns the measured relative error.
@discardableResult
func assertMatches(
  _ actual: Tensor, _ expected: Tensor, tolerance: Double, _ what: String,
  file: StaticString = #filePath, line: UInt = #line
) -> Double {
  XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
  guard actual.shape == expected.shape else { return .infinity }
  let error = relativeError(actual, expected)
  XCTAssertLessThan(error, tolerance, "\(what): relative error", file: file, line: line)
  print("parity \(what): relative error \(String(format: "%.3e", error))")
  return error
}
