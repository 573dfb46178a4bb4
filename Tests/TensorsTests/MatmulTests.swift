import Tensors
import TestSupport
import XCTest

final class MatmulTests: XCTestCase {
  func naiveMatmul(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int) -> [Float] {
    var c = [Float](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n { var s: Float = 0; for p in 0..<k { s += a[i * k + p] * b[p * n + j] }; c[i * n + j] = s } }
    return c
  }

  func testGEMMThroughOpenBLAS() {
    let a = Tensor.randomNormal([37, 53], seed: 1), b = Tensor.randomNormal([53, 29], seed: 2)
    let c = Tensor.matmul(a, b)
    let expected = Tensor(naiveMatmul(a.scalars, b.scalars, m: 37, k: 53, n: 29), shape: [37, 29])
    XCTAssertLessThan(relativeError(c, expected), 1e-5)
    // The transposed forms agree with explicit transposes.
    XCTAssertLessThan(relativeError(Tensor.matmul(a.transposed(), b, transposeA: true), expected), 1e-5)
    XCTAssertLessThan(relativeError(Tensor.matmul(a, b.transposed(), transposeB: true), expected), 1e-5)
    XCTAssertLessThan(relativeError(Tensor.matmul(a.transposed(), b.transposed(), transposeA: true, transposeB: true), expected), 1e-5)
  }

  func testMatmulGradients() {
    let a = Tensor.randomNormal([5, 7], seed: 3), b = Tensor.randomNormal([7, 3], seed: 4)
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
      let x = ta ? a.transposed() : a, y = tb ? b.transposed() : b
      let r = GradientCheck().run([x, y]) { Tensor.matmul($0[0], $0[1], transposeA: ta, transposeB: tb) }
      XCTAssertLessThan(r.worst, 1e-2, "transposeA \(ta) transposeB \(tb): \(r)")
    }
  }

  func testBatchedMatmul() {
    let a = Tensor.randomNormal([3, 4, 5], seed: 5), b = Tensor.randomNormal([3, 5, 2], seed: 6)
    let c = Tensor.matmul(a, b)
    XCTAssertEqual(c.shape, [3, 4, 2])
    for i in 0..<3 {
      XCTAssertLessThan(relativeError(c.select(axis: 0, i), Tensor.matmul(a.select(axis: 0, i), b.select(axis: 0, i))), 1e-6)
    }
    let shared = Tensor.randomNormal([5, 2], seed: 7)
    XCTAssertLessThan(GradientCheck().run([a, b]) { Tensor.matmul($0[0], $0[1]) }.worst, 1e-2)
    XCTAssertLessThan(GradientCheck().run([a, shared]) { Tensor.matmul($0[0], $0[1]) }.worst, 1e-2)
    XCTAssertLessThan(GradientCheck().run([a, b]) { Tensor.matmul($0[1], $0[0], transposeA: true, transposeB: true) }.worst, 1e-2)
  }

  func testLinear() {
    let x = Tensor.randomNormal([2, 3, 6], seed: 8), w = Tensor.randomNormal([4, 6], seed: 9), b = Tensor.randomNormal([4], seed: 10)
    let y = Tensor.linear(x, weight: w, bias: b)
    XCTAssertEqual(y.shape, [2, 3, 4])
    var expected: Float = b[2]
    for j in 0..<6 { expected += x[1, 2, j] * w[2, j] }
    XCTAssertEqual(y[1, 2, 2], expected, accuracy: 1e-5)
    XCTAssertLessThan(GradientCheck().run([x, w, b]) { Tensor.linear($0[0], weight: $0[1], bias: $0[2]) }.worst, 1e-2)
  }
}
