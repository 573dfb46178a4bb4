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

  /// Seeded weights that keep activations in range through the IR-SE-50 body: He-normal
  /// convolutions and linear layers, batch-norm scales near 1, running variances in 0.5…1.5,
  /// small biases and means.
  static func seed(_ layer: any Layer, seed: UInt64) {
    for (i, (name, p)) in layer.namedParameters.enumerated() {
      let s = seed &+ UInt64(i)
      if name.hasSuffix("running_var") {
        p.value = Tensor.randomUniform(p.shape, in: 0.5...1.5, seed: s)
      } else if p.shape.rank >= 2 {
        let fanIn = p.shape.dims.dropFirst().reduce(1, *)
        p.value = Tensor.randomNormal(p.shape, standardDeviation: (2 / Float(max(fanIn, 1))).squareRoot(), seed: s)
      } else if name.hasSuffix("weight") {
        p.value = Tensor.randomNormal(p.shape, mean: 1, standardDeviation: 0.1, seed: s)
      } else {
        p.value = Tensor.randomNormal(p.shape, standardDeviation: 0.1, seed: s)
      }
    }
  }

  /// The e4e tool on a small encoder (a 16² generator: 6 W+ entries; the IR-SE-50 body is the
  /// full one) saved as the converter saves e4e — the encoder under `encoder.` plus
  /// `latent_avg` — gives the encoder's codes as computed here, and codes + latent_avg as w_plus.
  func testE4EToolMatchesTheEncoderInProcess() throws {
    let encoder = E4EEncoder(generatorSize: 16)
    Self.seed(encoder, seed: 40)
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
    XCTAssertEqual(Set(file.names), ["codes", "w_plus"])
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

  /// Encoder tensors at the top level and no latent_avg: codes only. A wrong input is named.
  func testE4EToolWithoutPrefixOrAverageAndWithAWrongInput() throws {
    let encoder = E4EEncoder(generatorSize: 16)
    Self.seed(encoder, seed: 50)
    let weights = path("encoder.safetensors"), inputs = path("input.safetensors"), output = path("codes.safetensors")
    try SafeTensors.write(encoder.stateDictionary(), to: URL(fileURLWithPath: weights))
    let input = Tensor.randomUniform([1, 3, 64, 64], in: -1...1, seed: 51)
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
    XCTAssertTrue(text.contains("input must be [N, 3, H, W]"), text)
    XCTAssertFalse(FileManager.default.fileExists(atPath: refused))
  }
}
