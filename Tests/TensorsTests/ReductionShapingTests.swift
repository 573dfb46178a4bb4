import Tensors
import TestSupport
import XCTest

final class ReductionShapingTests: XCTestCase {
  func assertGradient(_ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line,
                      _ f: @escaping ([Tensor]) -> Tensor) {
    let result = GradientCheck().run(inputs, f)
    XCTAssertLessThan(result.worst, 1e-2, "\(result)", file: file, line: line)
  }

  func testReductionValues() {
    let x = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
    XCTAssertEqual(x.sum().item(), 276)
    XCTAssertEqual(x.sum(axis: 0).scalars, (0..<12).map { Float($0 * 2 + 12) })
    XCTAssertEqual(x.sum(axis: 1).shape, [2, 4])
    XCTAssertEqual(x.sum(axis: 1).scalars, [12, 15, 18, 21, 48, 51, 54, 57])
    XCTAssertEqual(x.sum(axis: -1, keepDims: true).shape, [2, 3, 1])
    XCTAssertEqual(x.sum(axis: -1).scalars, [6, 22, 38, 54, 70, 86])
    XCTAssertEqual(x.sum(axes: [0, 2]).scalars, [60, 92, 124])
    XCTAssertEqual(x.mean(axes: [1]).scalars, [4, 5, 6, 7, 16, 17, 18, 19])
    XCTAssertEqual(x.mean().item(), 11.5)
  }

  func testLargeSumIsAccurate() {
    // 4M ones: a naive float accumulator would stop at 2^24.
    let x = Tensor(ones: [1 << 22])
    XCTAssertEqual(x.sum().item(), Float(1 << 22))
    XCTAssertEqual(Tensor(repeating: 0.1, shape: [3_000_000]).sum().item(), 300_000, accuracy: 1)
  }

  func testReductionGradients() {
    let x = Tensor.randomNormal([2, 3, 5, 7], seed: 1)
    assertGradient([x]) { $0[0].sum(axis: 1) }
    assertGradient([x]) { $0[0].sum(axes: [0, 3], keepDims: true) }
    assertGradient([x]) { $0[0].mean(axes: [2, 3]) }
    assertGradient([x]) { $0[0].sum().reshaped([1]) }
    assertGradient([x]) { $0[0].mean().reshaped([1]) }
    assertGradient([Tensor.randomNormal([3, 1, 5], seed: 2)]) { $0[0].broadcast(to: [2, 3, 4, 5]) }
  }

  func testShapingValues() {
    let x = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
    XCTAssertEqual(x.permuted([2, 0, 1]).shape, [4, 2, 3])
    XCTAssertEqual(x.permuted([2, 0, 1])[1, 1, 2], x[1, 2, 1])
    XCTAssertEqual(x.transposed().shape, [2, 4, 3])
    XCTAssertEqual(x.transposed()[1, 3, 2], x[1, 2, 3])
    XCTAssertEqual(x.slice(axis: 1, 1..<3).scalars, [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23])
    XCTAssertEqual(x.select(axis: 2, 3).scalars, [3, 7, 11, 15, 19, 23])
    XCTAssertEqual(x.reshaped([4, -1]).shape, [4, 6])
    XCTAssertEqual(x.flattened(from: 1).shape, [2, 12])
    let c = Tensor.concat([x, x.slice(axis: 1, 0..<1)], axis: 1)
    XCTAssertEqual(c.shape, [2, 4, 4])
    XCTAssertEqual(c[1, 3, 2], x[1, 0, 2])
    let s = Tensor.stack([x, x * 2], axis: 1)
    XCTAssertEqual(s.shape, [2, 2, 3, 4])
    XCTAssertEqual(s[1, 1, 2, 3], 2 * x[1, 2, 3])
    XCTAssertEqual(x.gatherRows([1, 0, 1]).shape, [3, 3, 4])
    XCTAssertEqual(x.gatherRows([1, 0, 1])[2, 0, 0], 12)
  }

  func testShapingGradients() {
    let x = Tensor.randomNormal([2, 3, 4, 5], seed: 3)
    assertGradient([x]) { $0[0].permuted([3, 1, 0, 2]) }
    assertGradient([x]) { $0[0].transposed(1, 3) }
    assertGradient([x]) { $0[0].reshaped([6, 20]) }
    assertGradient([x]) { $0[0].slice(axis: 2, 1..<3) }
    assertGradient([x]) { $0[0].select(axis: 0, 1) }
    assertGradient([x, Tensor.randomNormal([2, 1, 4, 5], seed: 4)]) { Tensor.concat([$0[0], $0[1], $0[0]], axis: 1) }
    assertGradient([x, x * 3]) { Tensor.stack([$0[0], $0[1]], axis: 2) }
    assertGradient([x]) { $0[0].gatherRows([1, 1, 0]) }
  }

  func testCopyOnWrite() {
    let a = Tensor([1, 2, 3], shape: [3])
    var b = a
    b[1] = 20
    XCTAssertEqual(a.scalars, [1, 2, 3])
    XCTAssertEqual(b.scalars, [1, 20, 3])
    let r = a.reshaped([3, 1])
    var r2 = r
    r2[0, 0] = 5
    XCTAssertEqual(a.scalars, [1, 2, 3], "a reshape shares storage until written")
  }
}
