import Tensors
import TestSupport
import XCTest

final class UpFirDnTests: XCTestCase {
  func testKernelIsFlipped() {
    // A true convolution: out[o] = k[1]·x[o] + k[0]·x[o + 1] (a correlation would give 5, 8).
    let x = Tensor([1, 2, 3], shape: [1, 1, 1, 3]), k = Tensor([1, 2], shape: [1, 2])
    XCTAssertEqual(Tensor.upfirdn2d(x, kernel: k, pad: (0, 0, 0, 0)).scalars, [4, 7])
  }

  func testZeroInsertionAndSubsampling() {
    let x = Tensor([1, 2, 3, 4], shape: [1, 1, 2, 2]), one = Tensor([1], shape: [1, 1])
    let up = Tensor.upfirdn2d(x, kernel: one, up: 2, pad: (0, 0, 0, 0))
    XCTAssertEqual(up.shape, [1, 1, 4, 4])
    XCTAssertEqual(up.scalars, [1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0])
    // Pads are (x0, x1, y0, y1): one column on the left, one row at the bottom; then every other sample.
    let padded = Tensor.upfirdn2d(x, kernel: one, pad: (1, 0, 0, 1))
    XCTAssertEqual(padded.shape, [1, 1, 3, 3])
    XCTAssertEqual(padded.scalars, [0, 1, 2, 0, 3, 4, 0, 0, 0])
    let down = Tensor.upfirdn2d(padded, kernel: one, down: 2, pad: (0, 0, 0, 0))
    XCTAssertEqual(down.scalars, [0, 2, 0, 0])
    // Negative pads crop.
    XCTAssertEqual(Tensor.upfirdn2d(x, kernel: one, pad: (-1, 0, 0, -1)).scalars, [2])
  }

  func testMatchesReference() {
    let cases: [(String, up: Int, down: Int, pad: (Int, Int, Int, Int))] = [
      ("upfirdn_up2", 2, 1, (2, 1, 2, 1)), ("upfirdn_down2", 1, 2, (1, 1, 1, 1)), ("upfirdn_blur", 1, 1, (2, 1, 1, 2)),
      ("upfirdn_crop", 2, 1, (-1, 2, 1, -2)), ("upfirdn_up2down3", 2, 3, (1, 2, 0, 3)),
    ]
    for (name, up, down, pad) in cases {
      let kernel = OpsReference.tensor("\(name).kernel")
      OpsReference.check(name, inputs: ["x"]) { Tensor.upfirdn2d($0[0], kernel: kernel, up: up, down: down, pad: pad) }
    }
  }

  func testTwoElementPadMeansBothAxes() {
    let x = Tensor.randomNormal([1, 2, 5, 4], seed: 3), k = Tensor.randomUniform([4, 4], seed: 4)
    let a = Tensor.upfirdn2d(x, kernel: k, up: 2, pad: (2, 1))
    XCTAssertEqual(a.scalars, Tensor.upfirdn2d(x, kernel: k, up: 2, pad: (2, 1, 2, 1)).scalars)
    XCTAssertEqual(a.shape, [1, 2, 10, 8])
  }

  func testGradients() {
    let kernel = Tensor.randomUniform([3, 4], seed: 1)
    for (k, (up, down, pad)) in [(2, 1, (2, 1, 1, 2)), (1, 2, (1, 1, 0, 2)), (2, 3, (-1, 2, 1, -1))].enumerated() {
      let x = Tensor.randomNormal([2, 3, 5, 6], seed: UInt64(k))
      let result = GradientCheck().run([x]) { Tensor.upfirdn2d($0[0], kernel: kernel, up: up, down: down, pad: pad) }
      XCTAssertLessThan(result.worst, 1e-2, "up \(up) down \(down) pad \(pad): \(result)")
    }
  }
}
