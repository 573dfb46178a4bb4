@testable import Tensors
import TestSupport
import XCTest

final class AutodiffTests: XCTestCase {
  func testNoGraphWithoutGradients() {
    let a = Tensor.randomNormal([3, 3], seed: 1)
    let y = (a * a + 1).exp().sum()
    XCTAssertFalse(y.requiresGradient)
    XCTAssertTrue((a.requiringGradient() * a).requiresGradient)
    XCTAssertFalse(Parameter(a, requiresGradient: false).tensor.requiresGradient)
  }

  func testGradientOfReusedInputAccumulates() {
    let x = Tensor([1, 2, 3], shape: [3]).requiringGradient()
    let y = (x * x * x + x * 2).sum()  // dy/dx = 3x² + 2
    XCTAssertEqual(gradients(of: y, wrt: [x])[0].scalars, [5, 14, 29])
  }

  func testUnreachableInputGetsZeros() {
    let x = Tensor([1, 2], shape: [2]).requiringGradient(), z = Tensor([5], shape: [1]).requiringGradient()
    let g = gradients(of: x.sum(), wrt: [x, z])
    XCTAssertEqual(g[1].scalars, [0])
  }

  func testGradientWithRespectToAnIntermediate() {
    let x = Tensor([1, 2], shape: [2]).requiringGradient()
    let h = x * 3
    let y = h.squared().sum()
    XCTAssertEqual(gradients(of: y, wrt: [h])[0].scalars, [6, 12])
  }

  func testBackwardAccumulatesIntoParameters() {
    let p = Parameter(Tensor([1, 2], shape: [2]))
    (p.tensor * 3).sum().backward()
    (p.tensor * p.tensor).sum().backward()
    XCTAssertEqual(p.gradient?.scalars, [5, 7])
    p.zeroGradient()
    XCTAssertNil(p.gradient)
  }

  func testDeepGraphDoesNotOverflowTheStack() {
    var x = Tensor(scalar: 1).requiringGradient()
    let leaf = x
    for _ in 0..<100_000 { x = x * 1.0001 }
    let g = gradients(of: x, wrt: [leaf])[0].item()
    let expected = Foundation.pow(Double(Float(1.0001)), 100_000.0)
    XCTAssertEqual(Double(g), expected, accuracy: expected * 1e-3)
  }

  func testGradientCheckCatchesAWrongGradient() {
    // An op whose recorded backward is off by a factor must fail the check.
    let wrong: ([Tensor]) -> Tensor = { xs in
      let x = xs[0]
      return Tensor.record(x.detached().squared(), input: x) { g in g * x.detached() }  // should be 2·g·x
    }
    let r = GradientCheck().run([Tensor.randomNormal([4, 5], seed: 2)], wrong)
    XCTAssertGreaterThan(r.worst, 0.3)
  }
}
