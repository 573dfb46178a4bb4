import Foundation
import Networks
import Tensors
import TestSupport
import XCTest

final class LPIPSTests: XCTestCase {
  /// The fixture's linear layers are stored as `weights.lin{k}.model.1.weight` (and again under
  /// lpips's `lins.{k}` alias); the checkpoint has them once, as `lin{k}.model.1.weight`.
  func network(_ trunk: LPIPSTrunk, fixture: SafeTensorsFile) throws -> LPIPS {
    let lpips = LPIPS(trunk: trunk)
    var lins: [String: Tensor] = [:]
    for k in 0..<5 { lins["lin\(k).model.1.weight"] = try fixture.tensor("weights.lin\(k).model.1.weight") }
    try NetworkFixtures.loadFilled(lpips, from: fixture, prefix: "net.", extra: lins)
    return lpips
  }

  func checkParity(_ trunk: LPIPSTrunk, fixture name: String) throws {
    let fixture = try NetworkFixtures.open(name)
    let lpips = try network(trunk, fixture: fixture)
    let in0 = try fixture.tensor("in0"), in1 = try fixture.tensor("in1")
    let leaf = in0.requiringGradient()
    let distance = lpips.distance(leaf, in1)
    assertMatches(distance, try fixture.tensor("distance"), tolerance: 1e-4, "lpips-\(trunk) distance")
    let grad = gradients(of: distance.sum(), wrt: [leaf])[0]
    assertMatches(grad, try fixture.tensor("grad_in0"), tolerance: 1e-3, "lpips-\(trunk) grad_in0")
  }

  func testVGGMatchesReference() throws { try checkParity(.vgg, fixture: "ref_lpips_vgg.safetensors") }

  func testAlexMatchesReference() throws { try checkParity(.alex, fixture: "ref_lpips_alex.safetensors") }

  func testIdenticalImagesHaveZeroDistanceAndTrunkIsDetected() throws {
    let fixture = try NetworkFixtures.open("ref_lpips_alex.safetensors")
    let lpips = try network(.alex, fixture: fixture)
    let x = try fixture.tensor("in0")
    XCTAssertEqual(lpips.distance(x, x).scalars, [0, 0])
    // A checkpoint written from the network reloads, with the trunk told from its shapes.
    let file = try SafeTensorsFile(data: SafeTensors.serialize(lpips.stateDictionary()))
    let reloaded = try LPIPS(checkpoint: file)
    XCTAssertEqual(reloaded.trunk, .alex)
    XCTAssertEqual(reloaded.distance(x, try fixture.tensor("in1")).scalars, lpips.distance(x, try fixture.tensor("in1")).scalars)
    XCTAssertThrowsError(try LPIPS(checkpoint: SafeTensorsFile(data: SafeTensors.serialize(["x": Tensor(zeros: [1])]))))
  }

  func testAllZeroFeaturesGiveAFiniteGradient() {
    // A fresh network has zero weights, so every feature vector is zero: lpips's own gradient
    // is NaN there (sqrt at 0); this one is finite, and the distance is 0.
    let lpips = LPIPS(trunk: .alex)
    let x = Tensor.randomUniform([1, 3, 64, 64], in: -1...1, seed: 1).requiringGradient()
    let distance = lpips.distance(x, Tensor.randomUniform([1, 3, 64, 64], in: -1...1, seed: 2))
    XCTAssertEqual(distance.scalars, [0])
    XCTAssertTrue(gradients(of: distance.sum(), wrt: [x])[0].scalars.allSatisfy(\.isFinite))
  }

  func testParameterNamesFollowLPIPS() {
    let names = LPIPS(trunk: .vgg).namedParameters.map(\.name)
    XCTAssertEqual(names.count, 13 * 2 + 5)
    XCTAssertTrue(names.contains("net.slice5.28.bias"))
    XCTAssertTrue(names.contains("lin4.model.1.weight"))
    // torchvision AlexNet features (2,469,696) plus the five linear layers (1,152).
    XCTAssertEqual(LPIPS(trunk: .alex).parameterCount, 2_470_848)
  }
}
