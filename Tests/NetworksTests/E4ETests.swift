import Foundation
import Networks
import Tensors
import TestSupport
import XCTest

final class E4ETests: XCTestCase {
  func testCodesMatchReference() throws {
    let fixture = try NetworkFixtures.open("ref_e4e.safetensors")
    let encoder = E4EEncoder(generatorSize: 1024)
    XCTAssertEqual(encoder.styleCount, 18)
    // ~255M parameters: the names and shapes are checked against the fill strictly, then each
    // tensor is generated in place (an in-memory checkpoint would need three copies).
    try NetworkFixtures.assignFilled(encoder, from: fixture)
    let codes = encoder.codes(try fixture.tensor("input"))
    assertMatches(codes, try fixture.tensor("codes"), tolerance: 1e-4, "e4e codes")
  }

  func testStructureFollowsEncoder4Editing() {
    let encoder = E4EEncoder(generatorSize: 256)
    XCTAssertEqual(encoder.styleCount, 14)
    let names = Set(encoder.namedParameters.map(\.name))
    for name in ["input_layer.0.weight", "input_layer.2.weight", "body.3.shortcut_layer.0.weight",
                 "body.3.shortcut_layer.1.running_var", "body.23.res_layer.5.fc2.weight", "styles.13.convs.10.bias",
                 "styles.0.convs.6.weight", "styles.0.linear.weight", "latlayer2.bias"] {
      XCTAssertTrue(names.contains(name), name)
    }
    // Units that keep their width subsample instead of convolving the shortcut (the first one
    // too: 64 → 64 with stride 2).
    XCTAssertFalse(names.contains("body.0.shortcut_layer.0.weight"))
    XCTAssertFalse(names.contains("body.1.shortcut_layer.0.weight"))
    XCTAssertFalse(names.contains("styles.0.convs.8.weight"), "16² → 1² takes four convs")
  }

  func testCheckpointUnderEncoderPrefix() throws {
    let encoder = E4EEncoder(generatorSize: 16)
    var tensors = Dictionary(uniqueKeysWithValues: encoder.stateDictionary().map { ("encoder." + $0.key, $0.value) })
    tensors["latent_avg"] = Tensor(zeros: [6, 512])
    let file = try SafeTensorsFile(data: SafeTensors.serialize(tensors))
    let loaded = try E4EEncoder(checkpoint: file)
    XCTAssertEqual(loaded.styleCount, 6)
    XCTAssertThrowsError(try E4EEncoder(checkpoint: file, prefix: "decoder"))
  }

  /// A reduced-width encoder (for small generators) is read off its checkpoint's shapes and
  /// gives codes of the generator's style length.
  func testReducedWidthLoadsFromShapes() throws {
    var encoder = E4EEncoder(generatorSize: 16, width: 16, styleDim: 24)
    for (index, (_, p)) in encoder.namedParameters.enumerated() where p.shape.rank > 1 {
      p.value = Tensor.randomNormal(p.shape, standardDeviation: 0.1, seed: UInt64(index))
    }
    let tensors = Dictionary(uniqueKeysWithValues: encoder.stateDictionary().map { ("encoder." + $0.key, $0.value) })
    let loaded = try E4EEncoder(checkpoint: try SafeTensorsFile(data: SafeTensors.serialize(tensors)))
    XCTAssertEqual([loaded.width, loaded.styleDim, loaded.styleCount], [16, 24, 6])
    let image = Tensor.randomNormal([1, 3, 256, 256], standardDeviation: 0.5, seed: 99)
    let codes = loaded.codes(image)
    XCTAssertEqual(codes.shape, [1, 6, 24])
    XCTAssertEqual(codes.scalars, encoder.codes(image).scalars)
    encoder = E4EEncoder(generatorSize: 16)
    XCTAssertEqual(encoder.width, 64)
  }
}
