import Foundation
import Networks
import Tensors
import TestSupport
import XCTest

final class BiSeNetTests: XCTestCase {
  func testHeadsMatchReference() throws {
    let fixture = try NetworkFixtures.open("ref_bisenet.safetensors")
    let net = BiSeNet(classes: 19)
    try NetworkFixtures.loadFilled(net, from: fixture)
    let (logits, logits16, logits32) = net.allLogits(try fixture.tensor("input"))
    assertMatches(logits, try fixture.tensor("logits"), tolerance: 1e-4, "bisenet logits")
    assertMatches(logits16, try fixture.tensor("logits16"), tolerance: 1e-4, "bisenet logits16")
    assertMatches(logits32, try fixture.tensor("logits32"), tolerance: 1e-4, "bisenet logits32")
  }

  func testParsingAndFaceMask() {
    // Three pixels: background wins, skin wins, hat wins.
    var logits = Tensor(zeros: [1, 19, 1, 3])
    logits[0, 0, 0, 0] = 5
    logits[0, 1, 0, 1] = 5
    logits[0, 18, 0, 2] = 5
    XCTAssertEqual(BiSeNet.parsing(logits), [[0, 1, 18]])
    XCTAssertEqual(BiSeNet.mask(logits).scalars, [0, 1, 0])
    XCTAssertEqual(BiSeNet.mask(logits, classes: [.hat, .background]).scalars, [1, 0, 1])
    XCTAssertFalse(BiSeNet.defaultFaceClasses.contains(.cloth))
    XCTAssertTrue(BiSeNet.defaultFaceClasses.contains(.hair))
    XCTAssertEqual(BiSeNet.defaultFaceClasses.count, 16)
  }

  func testCheckpointRoundTrip() throws {
    let net = BiSeNet()
    for (i, p) in net.parameters.enumerated() where p.shape.rank == 4 {
      p.value = Tensor.randomNormal(p.shape, standardDeviation: 0.05, seed: UInt64(i))
    }
    let file = try SafeTensorsFile(data: SafeTensors.serialize(net.stateDictionary()))
    let reloaded = try BiSeNet(checkpoint: file)
    let x = Tensor.randomNormal([1, 3, 64, 64], seed: 9)
    XCTAssertTrue(reloaded.logits(x).scalars == net.logits(x).scalars)
    XCTAssertEqual(net.logits(x).shape, [1, 19, 64, 64])
  }

  /// A reduced BiSeNet loads back with its width read off the stem's shape and its input size
  /// off the metadata.
  func testReducedWidthCheckpointLoadsByShapes() throws {
    let net = BiSeNet(classes: 19, width: 8, inputSize: 64)
    net.initializeForTraining(seed: 2)
    XCTAssertLessThan(net.parameterCount, BiSeNet().parameterCount / 40)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("bisenet-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try net.write(to: url, metadata: ["trained_on": "a test"])
    let file = try SafeTensorsFile(contentsOf: url)
    XCTAssertEqual(file.metadata["network"], "BiSeNet")
    XCTAssertEqual(file.metadata["width"], "8")
    XCTAssertEqual(file.metadata["input_size"], "64")
    let reloaded = try BiSeNet(checkpoint: file)
    XCTAssertEqual(reloaded.width, 8)
    XCTAssertEqual(reloaded.inputSize, 64)
    XCTAssertEqual(reloaded.classCount, 19)
    let x = Tensor.randomNormal([2, 3, 64, 64], seed: 9)
    XCTAssertEqual(reloaded.logits(x).shape, [2, 19, 64, 64])
    XCTAssertTrue(reloaded.logits(x).scalars == net.logits(x).scalars)
    let bare = try BiSeNet(checkpoint: SafeTensorsFile(data: SafeTensors.serialize(net.stateDictionary())))
    XCTAssertNil(bare.inputSize)
    XCTAssertEqual(bare.width, 8)
  }
}
