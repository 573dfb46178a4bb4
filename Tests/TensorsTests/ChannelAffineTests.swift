import Tensors
import TestSupport
import XCTest

final class ChannelAffineTests: XCTestCase {
  func testMatchesSeparateOps() {
    let x = Tensor.randomNormal([2, 3, 5, 4], seed: 1)
    let scale = Tensor.randomNormal([3], seed: 2), shift = Tensor.randomNormal([3], seed: 3)
    let reference = x * scale.reshaped([1, 3, 1, 1]) + shift.reshaped([1, 3, 1, 1])
    XCTAssertLessThan(relativeError(x.channelAffine(scale: scale, shift: shift), reference), 1e-6)
    XCTAssertLessThan(relativeError(x.channelAffine(scale: scale, shift: shift, relu: true), reference.relu()), 1e-6)
    // Rank 2 ([N, C]) and rank 3 work the same way.
    let v = Tensor.randomNormal([4, 3], seed: 4)
    XCTAssertLessThan(relativeError(v.channelAffine(scale: scale, shift: shift), v * scale + shift), 1e-6)
  }

  func testGradients() {
    // Values away from the ReLU kink so central differences see one side only.
    var x = Tensor.randomNormal([2, 3, 4, 5], seed: 5)
    x.withUnsafeMutableBufferPointer { p in
      for i in 0..<p.count where Swift.abs(p[i]) < 0.2 { p[i] += p[i] < 0 ? -0.3 : 0.3 }
    }
    let scale = Tensor([1.5, -0.7, 0.9], shape: [3]), shift = Tensor([0, 0, 0], shape: [3])
    for relu in [false, true] {
      let result = GradientCheck(epsilon: 1e-2).run([x, scale, shift]) {
        $0[0].channelAffine(scale: $0[1], shift: $0[2], relu: relu)
      }
      XCTAssertLessThan(result.worst, 1e-2, "relu \(relu): \(result)")
    }
  }

  func testGradientOnlyToTheInput() {
    let x = Tensor.randomNormal([1, 2, 3, 3], seed: 6).requiringGradient()
    let scale = Tensor([2, -3], shape: [2]), shift = Tensor([0.5, 0.25], shape: [2])
    let y = x.channelAffine(scale: scale, shift: shift, relu: true)
    let g = gradients(of: y.sum(), wrt: [x])[0]
    for c in 0..<2 {
      for i in 0..<3 {
        for j in 0..<3 {
          let expected: Float = y[0, c, i, j] > 0 ? [2, -3][c] : 0
          XCTAssertEqual(g[0, c, i, j], expected)
        }
      }
    }
  }
}

final class ReLUSavingOutputTests: XCTestCase {
  func testSameValuesAndGradientAsReLU() {
    let x = Tensor.randomNormal([2, 3, 4, 5], seed: 7)
    let weights = Tensor.randomNormal([2, 3, 4, 5], seed: 8)
    XCTAssertEqual(x.reluSavingOutput().scalars, x.relu().scalars)
    let a = x.requiringGradient(), b = x.requiringGradient()
    let ga = gradients(of: (a.reluSavingOutput() * weights).sum(), wrt: [a])[0]
    let gb = gradients(of: (b.relu() * weights).sum(), wrt: [b])[0]
    XCTAssertEqual(ga.scalars, gb.scalars)
    XCTAssertTrue(ga.scalars.contains(0) && ga.scalars.contains { $0 != 0 }, "both sides of the kink are exercised")
    let result = GradientCheck(epsilon: 1e-3).run([x]) { $0[0].reluSavingOutput() }
    XCTAssertLessThan(result.worst, 1e-2, "\(result)")
  }
}
