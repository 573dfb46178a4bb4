import DemoWorld
import XCTest

final class FaceRendererTests: XCTestCase {
  func face(open: Float = 0, eyes: Float = 1, seed: UInt64 = 3) -> FaceParameters {
    var sampler = FaceSampler(seed: seed)
    var identity = sampler.identity()
    identity.hairStyle = .short
    return FaceParameters(identity: identity, pose: HeadPose(center: [0.5, 0.5], scale: 0.28, roll: 0.1, yaw: 0.15),
                          expression: FaceExpression(eyeOpenLeft: eyes, eyeOpenRight: eyes, mouth: MouthShape(open: open)))
  }

  func label(_ r: RenderedFace, _ p: SIMD2<Float>) -> UInt8 {
    r.mask[Int(p.y.rounded()) * r.width + Int(p.x.rounded())]
  }

  /// Random faces at 64² and 128²: every landmark in the image, and the mask under the
  /// landmarks shows the part they belong to.
  func testLandmarksStayInsideAndMaskFollowsThem() {
    for size in [64, 128] {
      var sampler = FaceSampler(seed: 42)
      var renderer = ProceduralFaceRenderer(width: size, height: size)
      for _ in 0..<25 {
        var f = sampler.next()
        f.expression.eyeOpenLeft = 1
        f.expression.eyeOpenRight = 1
        let r = renderer.render(f)
        XCTAssertEqual(r.landmarks.count, 68)
        for p in r.landmarks {
          XCTAssert(p.x >= 0 && p.y >= 0 && p.x <= Float(size - 1) && p.y <= Float(size - 1), "landmark \(p) outside \(size)²")
        }
        let leftEye = r.landmarks[36...41].reduce(.zero, +) / 6, rightEye = r.landmarks[42...47].reduce(.zero, +) / 6
        XCTAssertEqual(label(r, leftEye), FaceClass.leftEye.rawValue)
        XCTAssertEqual(label(r, rightEye), FaceClass.rightEye.rawValue)
        XCTAssertEqual(label(r, (r.landmarks[33] + r.landmarks[51]) / 2), FaceClass.skin.rawValue)
        XCTAssert(r.rgb.allSatisfy { $0 >= 0 && $0 <= 1 })
        // Brows and lips are a pixel or two thick at 64²: checked at 128².
        guard size >= 128 else { continue }
        XCTAssertEqual(label(r, r.landmarks[19]), FaceClass.leftBrow.rawValue)
        XCTAssertEqual(label(r, r.landmarks[24]), FaceClass.rightBrow.rawValue)
        XCTAssertEqual(label(r, (r.landmarks[30] + r.landmarks[33]) / 2), FaceClass.nose.rawValue)
        // The upper lip lies between landmark 51 (outer) and 62 (inner), the lower between 66 and 57.
        XCTAssertEqual(label(r, (r.landmarks[51] + r.landmarks[62]) / 2), FaceClass.upperLip.rawValue)
        XCTAssertEqual(label(r, (r.landmarks[57] + r.landmarks[66]) / 2), FaceClass.lowerLip.rawValue)
      }
    }
  }

  /// Opening the mouth grows the mouth class, and only pixels around the mouth and chin
  /// landmarks change.
  func testMouthFollowsItsLandmarks() {
    var renderer = ProceduralFaceRenderer(width: 128, height: 128)
    let openings: [Float] = [0, 0.25, 0.5, 0.75, 1]
    let renders = openings.map { renderer.render(face(open: $0)) }
    let areas = renders.map { $0.count(.mouth) }
    XCTAssertEqual(areas[0], 0, "a closed mouth shows no opening")
    for k in 1..<areas.count { XCTAssertGreaterThan(areas[k], areas[k - 1], "mouth areas \(areas)") }
    // Mouth pixels lie within the inner-lip landmarks' box.
    for r in renders {
      let inner = r.landmarks[60...67]
      let (x0, x1) = (inner.map(\.x).min()! - 1, inner.map(\.x).max()! + 1)
      let (y0, y1) = (inner.map(\.y).min()! - 1, inner.map(\.y).max()! + 1)
      for y in 0..<r.height {
        for x in 0..<r.width where r.mask[y * r.width + x] == FaceClass.mouth.rawValue {
          XCTAssert(Float(x) >= x0 && Float(x) <= x1 && Float(y) >= y0 && Float(y) <= y1, "mouth pixel (\(x), \(y)) outside its landmarks")
        }
      }
    }
    // Pixels that change between closed and open lie near the mouth and lower jaw landmarks.
    let (closed, open) = (renders[0], renders[4])
    let moved = [closed, open].flatMap { Array($0.landmarks[48...67]) + Array($0.landmarks[2...14]) }
    let (x0, x1) = (moved.map(\.x).min()! - 3, moved.map(\.x).max()! + 3)
    let (y0, y1) = (moved.map(\.y).min()! - 3, moved.map(\.y).max()! + 3)
    var changed = 0
    let plane = 128 * 128
    for i in 0..<plane {
      let d = (0..<3).map { abs(closed.rgb[$0 * plane + i] - open.rgb[$0 * plane + i]) }.max()!
      guard d > 0.02 else { continue }
      changed += 1
      let (x, y) = (Float(i % 128), Float(i / 128))
      XCTAssert(x >= x0 && x <= x1 && y >= y0 && y <= y1, "pixel (\(x), \(y)) changed away from the mouth")
    }
    XCTAssertGreaterThan(changed, areas[4], "opening the mouth changes at least its area")
    // The mouth's opening landmarks sit in the changed area's class.
    XCTAssertEqual(label(open, (open.landmarks[62] + open.landmarks[66]) / 2), FaceClass.mouth.rawValue)
  }

  func testBlinkClosesTheEyes() {
    var renderer = ProceduralFaceRenderer(width: 96, height: 96)
    let open = renderer.render(face(eyes: 1)), shut = renderer.render(face(eyes: 0))
    XCTAssertGreaterThan(open.count(.leftEye), 10)
    XCTAssertGreaterThan(open.count(.rightEye), 10)
    XCTAssertEqual(shut.count(.leftEye) + shut.count(.rightEye), 0)
    for k in 0..<68 where !(36...47).contains(k) { XCTAssertEqual(open.landmarks[k], shut.landmarks[k]) }
  }

  func testAntiAliasedEdges() {
    var renderer = ProceduralFaceRenderer(width: 64, height: 64)
    let r = renderer.render(face(open: 0.6))
    // Along the face's outline there are pixels between skin and background: partial coverage.
    let plane = 64 * 64
    var intermediate = 0
    for y in 1..<63 {
      for x in 1..<63 {
        let i = y * 64 + x
        let neighbours = [i - 1, i + 1, i - 64, i + 64].map { r.mask[$0] }
        if neighbours.contains(where: { $0 != r.mask[i] }) {
          let c = (0..<3).map { r.rgb[$0 * plane + i] }
          let n = (0..<3).map { r.rgb[$0 * plane + i + 1] }, p = (0..<3).map { r.rgb[$0 * plane + i - 1] }
          if zip(c, zip(n, p)).contains(where: { $0 > min($1.0, $1.1) + 0.01 && $0 < max($1.0, $1.1) - 0.01 }) { intermediate += 1 }
        }
      }
    }
    XCTAssertGreaterThan(intermediate, 40, "edges are blended, not stair-stepped")
  }

  func testSamplerAndBatchAreDeterministic() {
    var a = FaceSampler(seed: 9), b = FaceSampler(seed: 9)
    let x = FaceBatch.make(count: 6, width: 64, height: 64, sampler: &a, threads: 2)
    let y = FaceBatch.make(count: 6, width: 64, height: 64, sampler: &b, threads: 1)
    XCTAssertEqual(x.images.shape.dims, [6, 3, 64, 64])
    XCTAssertEqual(x.landmarks.shape.dims, [6, 68, 2])
    XCTAssertEqual(x.masks.shape.dims, [6, 64, 64])
    XCTAssertEqual(x.images.scalars, y.images.scalars)
    XCTAssertEqual(x.masks.scalars, y.masks.scalars)
    XCTAssertEqual(x.parameters, y.parameters)
    var c = FaceSampler(seed: 10)
    XCTAssertNotEqual(c.next(), x.parameters[0])
    // Every class the masks promise appears in a handful of faces.
    let classes = Set(x.masks.scalars.map { UInt8($0) })
    for c in [FaceClass.background, .skin, .leftBrow, .rightBrow, .leftEye, .rightEye, .nose, .upperLip, .lowerLip] {
      XCTAssert(classes.contains(c.rawValue), "class \(c) missing")
    }
  }
}
