import Tensors
import TestSupport
import XCTest

final class PoolingTests: XCTestCase {
  func testHandComputedCases() {
    let x = Tensor((1...16).map(Float.init), shape: [1, 1, 4, 4])
    XCTAssertEqual(x.avgPool2d(kernel: 2).scalars, [3.5, 5.5, 11.5, 13.5])
    XCTAssertEqual(x.maxPool2d(kernel: 2).scalars, [6, 8, 14, 16])
    // Padding 1, stride 2, kernel 3: the corner window holds 1, 2, 5, 6 and five padded zeros.
    XCTAssertEqual(x.avgPool2d(kernel: 3, stride: 2, padding: 1)[0, 0, 0, 0], 14 / 9)
    XCTAssertEqual(x.avgPool2d(kernel: 3, stride: 2, padding: 1, countIncludePad: false)[0, 0, 0, 0], 14 / 4)
    // Max pool padding is −∞, so negative inputs survive it.
    let negative = Tensor(repeating: -5, shape: [1, 1, 2, 2])
    XCTAssertEqual(negative.maxPool2d(kernel: 3, stride: 1, padding: 1).scalars, [-5, -5, -5, -5])
  }

  func testCeilModeSizes() {
    let x = Tensor.randomNormal([1, 1, 7, 8], seed: 1)
    XCTAssertEqual(x.avgPool2d(kernel: 3, stride: 2).shape, [1, 1, 3, 3])
    XCTAssertEqual(x.avgPool2d(kernel: 3, stride: 2, ceilMode: true).shape, [1, 1, 3, 4])
    XCTAssertEqual(x.maxPool2d(kernel: 3, stride: 2, padding: 1, ceilMode: true).shape, [1, 1, 4, 5])
    // The last window may not start in the right padding: 5 → (5 + 2 − 2 + 1) / 2 + 1 = 4 would, so 3.
    XCTAssertEqual(Tensor.randomNormal([1, 1, 5, 5], seed: 2).maxPool2d(kernel: 2, stride: 2, padding: 1, ceilMode: true).shape,
                   [1, 1, 3, 3])
  }

  func testMatchesPyTorch() {
    OpsReference.check("avgpool_ceil_nopad", inputs: ["x"]) {
      $0[0].avgPool2d(kernel: 3, stride: 2, padding: 1, countIncludePad: false, ceilMode: true)
    }
    OpsReference.check("avgpool_ceil_pad", inputs: ["x"]) { $0[0].avgPool2d(kernel: 3, stride: 2, padding: 1, ceilMode: true) }
    OpsReference.check("avgpool_2", inputs: ["x"]) { $0[0].avgPool2d(kernel: 2) }
    OpsReference.check("maxpool_ceil", inputs: ["x"]) { $0[0].maxPool2d(kernel: 3, stride: 2, padding: 1, ceilMode: true) }
    OpsReference.check("maxpool_2", inputs: ["x"]) { $0[0].maxPool2d(kernel: 2) }
  }

  func testGradients() {
    let x = Tensor.randomNormal([2, 3, 7, 6], seed: 5)
    for (padding, ceil, include) in [(0, false, true), (1, true, false), (1, true, true)] {
      let r = GradientCheck().run([x]) { $0[0].avgPool2d(kernel: 3, stride: 2, padding: padding, countIncludePad: include, ceilMode: ceil) }
      XCTAssertLessThan(r.worst, 1e-2, "avg padding \(padding) ceil \(ceil) include \(include): \(r)")
    }
    // Distinct values spaced well beyond the finite-difference step keep max pooling off its kinks.
    var order = Array(0..<(2 * 3 * 7 * 6))
    var rng = SeededGenerator(seed: 9)
    order.shuffle(using: &rng)
    let distinct = Tensor(order.map { Float($0) * 0.1 }, shape: [2, 3, 7, 6])
    for (padding, ceil) in [(0, false), (1, true)] {
      let r = GradientCheck().run([distinct]) { $0[0].maxPool2d(kernel: 3, stride: 2, padding: padding, ceilMode: ceil) }
      XCTAssertLessThan(r.worst, 1e-2, "max padding \(padding) ceil \(ceil): \(r)")
    }
  }

  func testMaxPoolTiesGoToTheFirstMaximum() {
    let x = Tensor([1, 3, 3, 2], shape: [1, 1, 2, 2]).requiringGradient()
    let g = gradients(of: x.maxPool2d(kernel: 2).sum(), wrt: [x])[0]
    XCTAssertEqual(g.scalars, [0, 1, 0, 0])
  }
}
