import Tensors
import TestSupport
import XCTest

final class WarpTests: XCTestCase {
  func testHomographyFromFourPoints() throws {
    let source: [SIMD2<Double>] = [[0, 0], [100, 0], [100, 80], [0, 80]]
    let destination: [SIMD2<Double>] = [[10, 5], [120, 12], [95, 90], [-4, 70]]
    let t = try XCTUnwrap(PerspectiveTransform(from: source, to: destination))
    for (s, d) in zip(source, destination) {
      let p = t.apply(s)
      XCTAssertEqual(p.x, d.x, accuracy: 1e-9)
      XCTAssertEqual(p.y, d.y, accuracy: 1e-9)
    }
    let inverse = try XCTUnwrap(t.inverse)
    for d in destination + [[33, 44]] {
      let back = t.apply(inverse.apply(d))
      XCTAssertEqual(back.x, d.x, accuracy: 1e-9)
      XCTAssertEqual(back.y, d.y, accuracy: 1e-9)
    }
    let composed = (inverse * t).matrix
    for (a, b) in zip(composed, PerspectiveTransform.identity.matrix) { XCTAssertEqual(a, b, accuracy: 1e-12) }
    // A similarity fit from 4 points is exactly the similarity.
    let similarity = PerspectiveTransform.translation(x: 3, y: -2) * PerspectiveTransform.scaling(x: 2, y: 2)
    let fitted = try XCTUnwrap(PerspectiveTransform(from: source, to: source.map(similarity.apply)))
    for (a, b) in zip(fitted.matrix, similarity.matrix) { XCTAssertEqual(a, b, accuracy: 1e-9) }
  }

  func testDegenerateInputsGiveNil() {
    let collinear: [SIMD2<Double>] = [[0, 0], [1, 1], [2, 2], [0, 5]]
    XCTAssertNil(PerspectiveTransform(from: collinear, to: [[0, 0], [1, 0], [1, 1], [0, 1]]))
    XCTAssertNil(PerspectiveTransform(matrix: [1, 2, 3, 2, 4, 6, 0, 0, 1]).inverse)
  }

  func testIdentityAndTranslation() {
    let image = Tensor.randomNormal([1, 2, 5, 6], seed: 1)
    let same = Tensor.warpPerspective(image, matrix: PerspectiveTransform.identity.matrix, outputSize: (5, 6))
    XCTAssertEqual(same.scalars, image.scalars)
    // Output (x, y) reads input (x + 1, y): a left shift, the last column falls outside (zero).
    let shifted = Tensor.warpPerspective(image, transform: .translation(x: 1, y: 0), outputSize: (5, 6))
    XCTAssertEqual(shifted[0, 1, 2, 3], image[0, 1, 2, 4])
    XCTAssertEqual(shifted[0, 1, 2, 5], 0)
    // Half a pixel: the average of two neighbours; half outside: half the edge pixel.
    let half = Tensor.warpPerspective(image, transform: .translation(x: 0.5, y: 0), outputSize: (5, 6))
    XCTAssertEqual(half[0, 0, 1, 2], (image[0, 0, 1, 2] + image[0, 0, 1, 3]) / 2, accuracy: 1e-6)
    XCTAssertEqual(half[0, 0, 1, 5], image[0, 0, 1, 5] / 2, accuracy: 1e-6)
  }

  func testMatchesGridSample() {
    let m = OpsReference.tensor("warp.matrix").scalars.map(Double.init)
    OpsReference.check("warp", inputs: ["x"]) { Tensor.warpPerspective($0[0], matrix: m, outputSize: (8, 11)) }
  }

  func testPerSampleMatrices() {
    let image = Tensor.randomNormal([2, 3, 6, 7], seed: 2)
    let a = PerspectiveTransform.translation(x: 0.3, y: -0.6).matrix, b = PerspectiveTransform.scaling(x: 0.7, y: 1.2).matrix
    let both = Tensor.warpPerspective(image, matrices: [a, b], outputSize: (4, 9))
    let first = Tensor.warpPerspective(image.slice(axis: 0, 0..<1), matrix: a, outputSize: (4, 9))
    let second = Tensor.warpPerspective(image.slice(axis: 0, 1..<2), matrix: b, outputSize: (4, 9))
    XCTAssertEqual(both.scalars, first.scalars + second.scalars)
  }

  func testGradients() {
    let image = Tensor.randomNormal([2, 2, 6, 7], seed: 3)
    let m = [0.9, 0.1, 0.4, -0.05, 1.05, -0.3, 0.01, -0.02, 1]
    let r = GradientCheck().run([image]) { Tensor.warpPerspective($0[0], matrix: m, outputSize: (5, 8)) }
    XCTAssertLessThan(r.worst, 1e-2, "\(r)")
  }
}
