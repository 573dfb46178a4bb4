import Foundation
import Networks
import Tensors
import TestSupport
import XCTest

/// `redub tools network ...` run as a process, against the same network computed in this process.
final class NetworkToolsTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("redub-cli-networks-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    if ProcessInfo.processInfo.environment["REDUB_KEEP_TEST_FILES"] == nil { try? FileManager.default.removeItem(at: directory) }
  }

  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  /// Seeded weights that keep activations in range through the IR-SE-50 body: He-scaled
  /// convolutions and linear layers, batch-norm and PReLU scales near 1, running variances in
  /// 0.5…1.5, small biases and means. Every tensor is cut, at a seeded offset, from one pool of
  /// 2^20 seeded uniform values in [-1, 1) and scaled (drawing ~88M values one by one takes
  /// ~10 s in a debug build; copying slices does not).
  static func seed(_ layer: any Layer, seed: UInt64) {
    let pool = Tensor.randomUniform([1 << 20], in: -1...1, seed: seed).scalars
    var rng = SeededGenerator(seed: seed &+ 1)
    func draw(_ shape: Shape) -> Tensor {
      var values: [Float] = []
      values.reserveCapacity(shape.count)
      var start = Int(rng.next() % UInt64(pool.count))
      while values.count < shape.count {
        let n = min(pool.count - start, shape.count - values.count)
        values += pool[start..<(start + n)]
        start = 0
      }
      return Tensor(values, shape: shape)
    }
    for (name, p) in layer.namedParameters {
      if name.hasSuffix("running_var") {
        p.value = draw(p.shape) * 0.5 + 1
      } else if p.shape.rank >= 2 {
        let fanIn = p.shape.dims.dropFirst().reduce(1, *)
        p.value = draw(p.shape) * (6 / Float(max(fanIn, 1))).squareRoot()  // He-normal's variance
      } else if name.hasSuffix("weight") {
        p.value = draw(p.shape) * 0.2 + 1
      } else {
        p.value = draw(p.shape) * 0.1
      }
    }
  }

  /// One seeded encoder for a 16² generator (6 W+ entries; the IR-SE-50 body is the full one,
  /// ~88M parameters), made once for the class: drawing and saving it takes a while in a debug build.
  nonisolated(unsafe) static var sharedEncoder: E4EEncoder?

  static var encoder: E4EEncoder {
    if let sharedEncoder { return sharedEncoder }
    let encoder = E4EEncoder(generatorSize: 16)
    seed(encoder, seed: 40)
    sharedEncoder = encoder
    return encoder
  }

  override class func tearDown() {
    sharedEncoder = nil
    super.tearDown()
  }

  /// The e4e tool on the encoder saved as the converter saves e4e — under `encoder.`, plus
  /// `latent_avg` [6, 512] — gives the encoder's codes as computed here, and codes + latent_avg
  /// as w_plus.
  func testE4EToolMatchesTheEncoderInProcess() throws {
    let encoder = Self.encoder
    let latentAverage = Tensor.randomNormal([6, 512], standardDeviation: 0.5, seed: 41)
    var tensors = Dictionary(uniqueKeysWithValues: encoder.stateDictionary().map { ("encoder." + $0.key, $0.value) })
    tensors["latent_avg"] = latentAverage
    let weights = path("e4e.safetensors"), inputs = path("input.safetensors"), output = path("codes.safetensors")
    try SafeTensors.write(tensors, metadata: ["styles": "6"], to: URL(fileURLWithPath: weights))
    let input = Tensor.randomUniform([1, 3, 256, 256], in: -1...1, seed: 42)
    try SafeTensors.write(["input": input], to: URL(fileURLWithPath: inputs))

    let (status, text) = try CLITests.redub(["tools", "network", "e4e", "--weights", weights, "--inputs", inputs, "--output", output])
    XCTAssertEqual(status, 0, text)
    XCTAssertTrue(text.contains("wrote codes, w_plus to \(output)"), text)
    let file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: output))
    XCTAssertEqual(file.names, ["codes", "w_plus"])
    let expected = encoder.codes(input)
    XCTAssertEqual(expected.shape, [1, 6, 512])
    XCTAssertTrue(expected.scalars.allSatisfy(\.isFinite))
    XCTAssertGreaterThan(expected.scalars.map(abs).max() ?? 0, 1e-3, "a degenerate encoder would prove nothing")
    let codes = try file.tensor("codes")
    XCTAssertEqual(codes.shape, [1, 6, 512])
    XCTAssertLessThan(relativeError(codes, expected), 1e-5)
    let wPlus = try file.tensor("w_plus")
    XCTAssertEqual(wPlus.shape, [1, 6, 512])
    XCTAssertLessThan(relativeError(wPlus, expected + latentAverage.reshaped([1, 6, 512])), 1e-5)
  }

  /// Encoder tensors at the top level and no latent_avg: codes only (a 64² input keeps it
  /// short). A wrong input is named.
  func testE4EToolWithoutPrefixOrAverageAndWithAWrongInput() throws {
    let encoder = Self.encoder
    let weights = path("encoder.safetensors"), inputs = path("input.safetensors"), output = path("codes.safetensors")
    try SafeTensors.write(encoder.stateDictionary(), to: URL(fileURLWithPath: weights))
    let input = Tensor.randomUniform([2, 3, 64, 64], in: -1...1, seed: 51)
    try SafeTensors.write(["input": input], to: URL(fileURLWithPath: inputs))
    var (status, text) = try CLITests.redub(["tools", "network", "e4e", "--weights", weights, "--inputs", inputs, "--output", output])
    XCTAssertEqual(status, 0, text)
    let file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: output))
    XCTAssertEqual(file.names, ["codes"])
    XCTAssertLessThan(relativeError(try file.tensor("codes"), encoder.codes(input)), 1e-5)

    let grayInputs = path("gray.safetensors"), refused = path("refused.safetensors")
    try SafeTensors.write(["input": Tensor(zeros: [1, 1, 64, 64])], to: URL(fileURLWithPath: grayInputs))
    (status, text) = try CLITests.redub(["tools", "network", "e4e", "--weights", weights, "--inputs", grayInputs, "--output", refused])
    XCTAssertNotEqual(status, 0, text)
    XCTAssertTrue(text.contains("input must be [N, 3, H, W], got [1, 1, 64, 64]"), text)
    XCTAssertFalse(FileManager.default.fileExists(atPath: refused))
  }
}
