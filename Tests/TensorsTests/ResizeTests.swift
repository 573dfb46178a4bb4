import Tensors
import TestSupport
import XCTest

final class ResizeTests: XCTestCase {
  func testHandComputedCases() {
    let x = Tensor([0, 1, 2, 3], shape: [1, 1, 1, 4])
    // Nearest: src = floor(dst · 4 / 3) = 0, 1, 2.
    XCTAssertEqual(x.resizeNearest(to: (1, 3)).scalars, [0, 1, 2])
    XCTAssertEqual(x.resizeNearest(to: (2, 8)).scalars, [0, 0, 1, 1, 2, 2, 3, 3, 0, 0, 1, 1, 2, 2, 3, 3])
    // Half-pixel bilinear, 4 → 2: sources 0.5 and 2.5.
    XCTAssertEqual(x.resizeBilinear(to: (1, 2), alignCorners: false).scalars, [0.5, 2.5])
    // 4 → 8: the first source −0.25 clamps to 0; the second is 0.25.
    let up = x.resizeBilinear(to: (1, 8), alignCorners: false).scalars
    XCTAssertEqual(up[0], 0)
    XCTAssertEqual(up[1], 0.25, accuracy: 1e-6)
    XCTAssertEqual(up[7], 3)
    // Align corners, 4 → 7: sources 0, 0.5, ..., 3.
    XCTAssertEqual(x.resizeBilinear(to: (1, 7), alignCorners: true).scalars, [0, 0.5, 1, 1.5, 2, 2.5, 3])
  }

  func testMatchesPyTorch() {
    for size in [(11, 5), (14, 16), (3, 13)] {
      let tag = "\(size.0)x\(size.1)"
      OpsReference.check("nearest_\(tag)", inputs: ["x"]) { $0[0].resizeNearest(to: size) }
      OpsReference.check("bilinear_\(tag)_hp", inputs: ["x"]) { $0[0].resizeBilinear(to: size, alignCorners: false) }
      OpsReference.check("bilinear_\(tag)_ac", inputs: ["x"]) { $0[0].resizeBilinear(to: size, alignCorners: true) }
    }
    OpsReference.check("bilinear_1x4_ac", inputs: ["x"]) { $0[0].resizeBilinear(to: (1, 4), alignCorners: true) }
  }

  func testGradients() {
    let x = Tensor.randomNormal([2, 3, 5, 7], seed: 1)
    for size in [(9, 4), (3, 11)] {
      for align in [false, true] {
        let r = GradientCheck().run([x]) { $0[0].resizeBilinear(to: size, alignCorners: align) }
        XCTAssertLessThan(r.worst, 1e-2, "bilinear \(size) alignCorners \(align): \(r)")
      }
      let r = GradientCheck().run([x]) { $0[0].resizeNearest(to: size) }
      XCTAssertLessThan(r.worst, 1e-2, "nearest \(size): \(r)")
    }
  }
}
