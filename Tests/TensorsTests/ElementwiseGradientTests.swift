import Tensors
import TestSupport
import XCTest

/// Every elementwise and broadcasting op's gradient against finite differences.
final class ElementwiseGradientTests: XCTestCase {
  let check = GradientCheck()

  func assertGradient(_ inputs: [Tensor], tolerance: Double = 1e-2, file: StaticString = #filePath, line: UInt = #line,
                      _ f: @escaping ([Tensor]) -> Tensor) {
    let result = check.run(inputs, f)
    XCTAssertLessThan(result.worst, tolerance, "\(result)", file: file, line: line)
  }

  func testBroadcastingArithmetic() {
    let a = Tensor.randomNormal([2, 3, 5, 7], seed: 1)
    let cases: [Shape] = [[2, 3, 5, 7], [1, 3, 1, 1], [7], [2, 1, 5, 1], [], [3, 1, 7]]
    for shape in cases {
      let b = Tensor.randomUniform(shape, in: 0.5...2, seed: 2)
      assertGradient([a, b]) { $0[0] + $0[1] }
      assertGradient([a, b]) { $0[0] - $0[1] }
      assertGradient([a, b]) { $0[0] * $0[1] }
      assertGradient([a, b]) { $0[0] / $0[1] }
      assertGradient([b, a]) { $0[0] * $0[1] }  // broadcast on the left operand
    }
  }

  func testScalarArithmetic() {
    let a = Tensor.randomUniform([3, 5], in: 0.5...2, seed: 3)
    assertGradient([a]) { ($0[0] + 2) * 3 - 1 }
    assertGradient([a]) { 2 - $0[0] / 4 }
    assertGradient([a]) { 3 / $0[0] }
    assertGradient([a]) { -$0[0] }
  }

  func testUnaryFunctions() {
    let x = Tensor.randomNormal([2, 3, 4, 5], seed: 4)
    let positive = Tensor.randomUniform([2, 3, 4, 5], in: 0.5...2, seed: 5)
    // Keep kinked functions away from their kinks: |x| ≥ 0.2.
    let kinked = x.map0 { $0 >= 0 ? $0 + 0.2 : $0 - 0.2 }
    assertGradient([x]) { $0[0].squared() }
    assertGradient([positive]) { $0[0].sqrt() }
    assertGradient([positive]) { $0[0].rsqrt() }
    assertGradient([x]) { $0[0].exp() }
    assertGradient([positive]) { $0[0].log() }
    assertGradient([kinked]) { $0[0].abs() }
    assertGradient([positive]) { $0[0].pow(2.5) }
    // Values at least 0.05 from the clamp bounds, so no finite-difference step crosses one.
    let clampable = x.map0 { abs($0 - 0.7) < 0.05 || abs($0 + 0.9) < 0.05 ? $0 + 0.1 : $0 }
    assertGradient([clampable]) { $0[0].clamped(min: -0.9, max: 0.7) }
    assertGradient([kinked]) { $0[0].relu() }
    assertGradient([kinked]) { $0[0].leakyRelu(slope: 0.2, gain: Float(2).squareRoot()) }
    assertGradient([x]) { $0[0].sigmoid() }
    assertGradient([x]) { $0[0].tanh() }
  }

  func testForwardValues() {
    let x = Tensor([-2, -0.5, 0, 1.5], shape: [4])
    XCTAssertEqual(x.relu().scalars, [0, 0, 0, 1.5])
    XCTAssertEqual(x.leakyRelu(slope: 0.2, gain: 2).scalars, [-0.8, -0.2, 0, 3])
    XCTAssertEqual(x.clamped(min: -1, max: 1).scalars, [-1, -0.5, 0, 1])
    XCTAssertEqual(x.abs().scalars, [2, 0.5, 0, 1.5])
    let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
    let b = Tensor([10, 20, 30], shape: [3])
    XCTAssertEqual((a + b).scalars, [11, 22, 33, 14, 25, 36])
    XCTAssertEqual((a * Tensor([2, 3], shape: [2, 1])).scalars, [2, 4, 6, 12, 15, 18])
    XCTAssertEqual((Tensor(scalar: 1) - a).scalars, [0, -1, -2, -3, -4, -5])
  }
}

extension Tensor {
  /// Elementwise transform for building test inputs (no autodiff).
  func map0(_ f: (Float) -> Float) -> Tensor { Tensor(scalars.map(f), shape: shape) }
}
