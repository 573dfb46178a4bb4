import Tensors
import TestSupport
import XCTest

final class NormalizationTests: XCTestCase {
  func assertGradient(_ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line,
                      _ f: @escaping ([Tensor]) -> Tensor) {
    let result = GradientCheck().run(inputs, f)
    XCTAssertLessThan(result.worst, 1e-2, "\(result)", file: file, line: line)
  }

  func testSoftmax() {
    let x = Tensor([1, 2, 3, 1000, 1001, 1002], shape: [2, 3])
    let s = x.softmax(axis: 1)
    let e = [Float(1), Float(M_E), Float(M_E * M_E)]
    let total = e.reduce(0, +)
    for j in 0..<3 {
      XCTAssertEqual(s[0, j], e[j] / total, accuracy: 1e-6)
      XCTAssertEqual(s[1, j], e[j] / total, accuracy: 1e-6, "large logits must not overflow")
    }
    XCTAssertEqual(x.logSoftmax(axis: 1)[1, 2], Float(2 - Foundation.log(Double(total))), accuracy: 1e-4)
    let y = Tensor.randomNormal([2, 5, 3, 4], seed: 1)
    for axis in [1, -1, 0] {
      assertGradient([y]) { $0[0].softmax(axis: axis) }
      assertGradient([y]) { $0[0].logSoftmax(axis: axis) }
    }
  }

  func testLayerNorm() {
    let x = Tensor.randomNormal([3, 4, 6], mean: 2, standardDeviation: 3, seed: 2)
    let y = x.layerNorm(normalizedDims: 1)
    for i in 0..<3 {
      let row = y.select(axis: 0, i).select(axis: 0, 1)
      XCTAssertEqual(row.mean().item(), 0, accuracy: 1e-5)
      XCTAssertEqual(row.squared().mean().item(), 1, accuracy: 1e-3)
    }
    let w = Tensor.randomNormal([4, 6], seed: 3), b = Tensor.randomNormal([4, 6], seed: 4)
    assertGradient([x, w, b]) { $0[0].layerNorm(normalizedDims: 2, weight: $0[1], bias: $0[2]) }
  }

  func testBatchNormInference() {
    let x = Tensor.randomNormal([2, 3, 4, 5], seed: 5)
    let mean = Tensor([0.5, -1, 2], shape: [3]), variance = Tensor([1, 4, 0.25], shape: [3])
    let w = Tensor([1, 2, 3], shape: [3]), b = Tensor([0, 1, -1], shape: [3])
    let y = x.batchNormInference(mean: mean, variance: variance, weight: w, bias: b, eps: 0)
    XCTAssertEqual(y[1, 1, 2, 3], (x[1, 1, 2, 3] + 1) / 2 * 2 + 1, accuracy: 1e-5)
    XCTAssertEqual(y[0, 2, 0, 4], (x[0, 2, 0, 4] - 2) / 0.5 * 3 - 1, accuracy: 1e-5)
    assertGradient([x, w, b]) { $0[0].batchNormInference(mean: mean, variance: variance, weight: $0[1], bias: $0[2]) }
  }

  func testPixelNormAndPReLU() {
    let x = Tensor.randomNormal([2, 8, 3], seed: 6)
    let n = x.pixelNorm()
    XCTAssertEqual(n.squared().mean(axis: 1).scalars.reduce(0, +) / 6, 1, accuracy: 1e-4)
    assertGradient([x]) { $0[0].pixelNorm() }
    let z = Tensor.randomNormal([2, 3, 4, 5], seed: 7).map0 { $0 >= 0 ? $0 + 0.2 : $0 - 0.2 }
    let slope = Tensor([0.25, -0.1, 0.5], shape: [3])
    let p = z.prelu(slope: slope)
    XCTAssertEqual(p[1, 2, 3, 4], z[1, 2, 3, 4] > 0 ? z[1, 2, 3, 4] : 0.5 * z[1, 2, 3, 4])
    assertGradient([z, slope]) { $0[0].prelu(slope: $0[1]) }
    assertGradient([z, Tensor([0.3], shape: [1])]) { $0[0].prelu(slope: $0[1]) }
  }
}
