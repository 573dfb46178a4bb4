import Foundation
@testable import Media
import Tensors
import XCTest

final class AlignmentTests: XCTestCase {
  /// 68 landmarks with both eyes' points on their centres and the mouth corners given; the rest
  /// (which the alignment ignores) scattered.
  func landmarks(leftEye: SIMD2<Double>, rightEye: SIMD2<Double>, mouthLeft: SIMD2<Double>, mouthRight: SIMD2<Double>) -> FaceLandmarks {
    var points: [SIMD2<Double>] = []
    for i in 0..<68 { points.append(SIMD2(Double(i * 7 % 50), Double(i * 13 % 40))) }
    // Eye contours symmetric around their centres, so their means are the centres.
    let ring: [SIMD2<Double>] = [SIMD2(-6, 0), SIMD2(-3, -2), SIMD2(3, -2), SIMD2(6, 0), SIMD2(3, 2), SIMD2(-3, 2)]
    for i in 0..<6 { points[36 + i] = leftEye + ring[i]; points[42 + i] = rightEye + ring[i] }
    points[48] = mouthLeft
    points[54] = mouthRight
    return FaceLandmarks(points)
  }

  func testQuadFollowsTheFFHQFormula() {
    let face = landmarks(leftEye: SIMD2(100, 100), rightEye: SIMD2(160, 100), mouthLeft: SIMD2(110, 180), mouthRight: SIMD2(150, 180))
    let quad = FaceQuad(landmarks: face)
    // eye_avg (130, 100), eye_to_eye (60, 0), eye_to_mouth (0, 80): x ∥ (140, 0), scale max(120, 144).
    XCTAssertEqual(quad.center, SIMD2(130, 108))
    XCTAssertEqual(quad.x, SIMD2(144, 0))
    XCTAssertEqual(quad.y, SIMD2(0, 144))
    XCTAssertEqual(quad.corners, [SIMD2(-14, -36), SIMD2(-14, 252), SIMD2(274, 252), SIMD2(274, -36)])
    XCTAssertEqual(quad.side, 288)
    // Wide-set eyes: 2·|eye_to_eye| wins.
    let wide = FaceQuad(landmarks: landmarks(leftEye: SIMD2(0, 0), rightEye: SIMD2(100, 0), mouthLeft: SIMD2(40, 50), mouthRight: SIMD2(60, 50)))
    XCTAssertEqual(wide.x.x, 200, accuracy: 1e-12)
    XCTAssertEqual(FaceQuad(landmarks: face, scale: 1.5).x, SIMD2(216, 0))
  }

  func testQuadTurnsWithTheFace() {
    let angle = 30 * Double.pi / 180, pivot = SIMD2(300.0, 200.0)
    func turn(_ p: SIMD2<Double>) -> SIMD2<Double> {
      let d = p - pivot
      return pivot + SIMD2(d.x * cos(angle) - d.y * sin(angle), d.x * sin(angle) + d.y * cos(angle))
    }
    let upright = FaceQuad(landmarks: landmarks(leftEye: SIMD2(100, 100), rightEye: SIMD2(160, 100),
                                                mouthLeft: SIMD2(110, 180), mouthRight: SIMD2(150, 180)))
    let turned = FaceQuad(landmarks: landmarks(leftEye: turn(SIMD2(100, 100)), rightEye: turn(SIMD2(160, 100)),
                                               mouthLeft: turn(SIMD2(110, 180)), mouthRight: turn(SIMD2(150, 180))))
    for (a, b) in zip(upright.corners.map(turn), turned.corners) {
      XCTAssertEqual(a.x, b.x, accuracy: 1e-9)
      XCTAssertEqual(a.y, b.y, accuracy: 1e-9)
    }
  }

  func testSmoothingMatchesScipyGaussianFilter1D() {
    let a = gaussianFilter1D([0, 0, 1, 0, 0, 3, 2], sigma: 1)
    let expected = [0.05842299, 0.24250677, 0.41250672, 0.41307621, 0.89715293, 1.806483, 2.16985138]
    for (x, y) in zip(a, expected) { XCTAssertEqual(x, y, accuracy: 1e-7) }
    // A clip shorter than the kernel's radius reflects repeatedly.
    let b = gaussianFilter1D([1, 5, 2], sigma: 3)
    for (x, y) in zip(b, [2.66305958, 2.66669634, 2.67024408]) { XCTAssertEqual(x, y, accuracy: 1e-7) }
  }

  func testSmoothedQuadsUseTheirOwnSigmas() {
    let quads = (0..<9).map { i in
      FaceQuad(center: SIMD2(Double(i == 4 ? 10 : 0), 0), x: SIMD2(100 + Double(i == 4 ? 9 : 0), 0), y: SIMD2(0, 100))
    }
    let smoothed = FaceQuad.smoothed(quads, centerSigma: 1, axisSigma: 3)
    let centers = gaussianFilter1D(quads.map(\.center.x), sigma: 1)
    let axes = gaussianFilter1D(quads.map(\.x.x), sigma: 3)
    XCTAssertEqual(smoothed.map(\.center.x), centers)
    XCTAssertEqual(smoothed.map(\.x.x), axes)
    XCTAssertLessThan(smoothed[4].x.x - 100, smoothed[4].center.x / 10 * 9, "σ 3 flattens more than σ 1")
    // Constant tracks stay put.
    for quad in FaceQuad.smoothed([FaceQuad](repeating: quads[0], count: 5)) {
      XCTAssertEqual(quad.center.x, 0, accuracy: 1e-12)
      XCTAssertEqual(quad.x.x, 100, accuracy: 1e-12)
      XCTAssertEqual(quad.y.y, 100, accuracy: 1e-12)
    }
  }

  func testAxisAlignedCropCopiesPixels() {
    // A quad covering frame pixels 10…41 × 20…51 exactly: the 32² crop is that block.
    let frame = movingGradient(width: 80, height: 64, frame: 3)
    let quad = FaceQuad(center: SIMD2(25.5, 35.5), x: SIMD2(16, 0), y: SIMD2(0, 16))
    let crop = FaceCrop(quad: quad, size: 32)
    let cropped = RGBImage(tensor: crop.crop(frame))
    for y in [0, 7, 31] {
      for x in [0, 13, 31] {
        let s = 3 * ((y + 20) * 80 + x + 10), d = 3 * (y * 32 + x)
        XCTAssertEqual(Array(cropped.pixels[d..<(d + 3)]), Array(frame.pixels[s..<(s + 3)]), "(\(x), \(y))")
      }
    }
    // Tensor frames give the same crop.
    XCTAssertEqual(RGBImage(tensor: crop.crop(frame.tensor())), cropped)
    // The inverse transform takes frame points back.
    let p = SIMD2(30.25, 40.5)
    let back = crop.toFrame(crop.toCrop(p))
    XCTAssertEqual(back.x, p.x, accuracy: 1e-9)
    XCTAssertEqual(back.y, p.y, accuracy: 1e-9)
    XCTAssertEqual(crop.toCrop(SIMD2(10, 20)), SIMD2(0, 0))
  }

  func testIdentityEditPastesBackInvisibly() {
    let frame = movingGradient(width: 320, height: 240, frame: 5)
    let face = landmarks(leftEye: SIMD2(140, 100), rightEye: SIMD2(185, 96), mouthLeft: SIMD2(148, 160), mouthRight: SIMD2(182, 157))
    let crop = FaceCrop(quad: FaceQuad(landmarks: face), size: 256)
    let edited = crop.crop(frame)
    let paste = PasteBack(cropSize: 256)
    let result = paste.paste(edited, into: frame, crop: crop)
    // Inside the crop's quad: PSNR ≥ 40 dB. Outside the feathered mask: identical bytes.
    var inside = 0, changedOutside = 0, squared = 0.0
    for y in 0..<240 {
      for x in 0..<320 {
        let c = crop.toCrop(SIMD2(Double(x), Double(y)))
        let inQuad = c.x >= -0.5 && c.x <= 255.5 && c.y >= -0.5 && c.y <= 255.5
        let cx = Int(c.x.rounded()), cy = Int(c.y.rounded())
        let alpha = inQuad ? paste.cropAlpha[min(255, max(0, cy)) * 256 + min(255, max(0, cx))] : 0
        for ch in 0..<3 {
          let i = 3 * (y * 320 + x) + ch
          let d = Double(Int(result.pixels[i]) - Int(frame.pixels[i]))
          if inQuad { squared += d * d; inside += 1 }
          // Where the mask (and its bilinear neighbours) is zero the frame is untouched.
          if !inQuad || alpha == 0 && !nearMask(paste, cx, cy) { if d != 0 { changedOutside += 1 } }
        }
      }
    }
    let psnr = 10 * log10(255 * 255 / (squared / Double(inside)))
    XCTAssertGreaterThanOrEqual(psnr, 40, "PSNR inside the crop \(psnr) dB")
    XCTAssertEqual(changedOutside, 0, "pixels changed outside the mask")
    XCTAssertNotEqual(result, frame, "the paste must have written something")
    print("identity paste-back: PSNR inside the crop \(String(format: "%.2f", psnr)) dB")

    // A visibly different edit shows inside the mask and nowhere else.
    let grey = Tensor(repeating: 0.5, shape: [1, 3, 256, 256])
    let pasted = paste.paste(grey, into: frame, crop: crop)
    let centre = 3 * (Int(crop.quad.center.y) * 320 + Int(crop.quad.center.x))
    for c in 0..<3 { XCTAssertEqual(Double(pasted.pixels[centre + c]), 127.5, accuracy: 1) }
    XCTAssertEqual(Array(pasted.pixels[0..<3]), Array(frame.pixels[0..<3]))
    // The float path agrees with the 8-bit path.
    let asTensor = RGBImage(tensor: paste.paste(grey, into: frame.tensor(), crop: crop))
    XCTAssertGreaterThan(asTensor.psnr(against: pasted), 45)
  }

  /// Whether any crop pixel within 1 of (x, y) has α > 0 (bilinear sampling reaches it).
  private func nearMask(_ paste: PasteBack, _ x: Int, _ y: Int) -> Bool {
    for dy in -1...1 {
      for dx in -1...1 {
        let u = x + dx, v = y + dy
        if u >= 0, v >= 0, u < paste.cropSize, v < paste.cropSize, paste.cropAlpha[v * paste.cropSize + u] > 0 { return true }
      }
    }
    return false
  }

  func testMaskFeathersInsideTheCrop() {
    let paste = PasteBack(cropSize: 128)
    XCTAssertEqual(paste.settings, PasteBack.Settings(dilation: 0, erosion: 4, feather: 1))
    let a = paste.cropAlpha
    XCTAssertEqual(a[0], 0)
    XCTAssertEqual(a[64 * 128 + 64], 1, accuracy: 1e-6)
    // Zero within 4 − ⌈3σ⌉ = 1 pixel of the border, rising smoothly after it.
    XCTAssertEqual(a[64 * 128 + 0], 0)
    XCTAssertGreaterThan(a[64 * 128 + 3], 0)
    XCTAssertLessThan(a[64 * 128 + 3], a[64 * 128 + 5])
    XCTAssertEqual(PasteBack.Settings.standard(cropSize: 1024), PasteBack.Settings(dilation: 0, erosion: 32, feather: 8))
  }

  func testMorphologyAndBlur() {
    // A 3×3 block in a 9×9 plane, with a one-pixel hole.
    var plane = [Float](repeating: 0, count: 81)
    for y in 3...5 { for x in 3...5 { plane[y * 9 + x] = 1 } }
    plane[4 * 9 + 4] = 0
    let closed = MaskFilters.morphology(MaskFilters.morphology(plane, width: 9, height: 9, radius: 1, dilate: true),
                                        width: 9, height: 9, radius: 1, dilate: false)
    XCTAssertEqual(closed[4 * 9 + 4], 1, "closing fills the hole")
    XCTAssertEqual(closed.reduce(0, +), 9)
    let dilated = MaskFilters.morphology(plane, width: 9, height: 9, radius: 2, dilate: true)
    XCTAssertEqual(dilated.reduce(0, +), 49)
    let eroded = MaskFilters.morphology([Float](repeating: 1, count: 81), width: 9, height: 9, radius: 2, dilate: false)
    XCTAssertEqual(eroded.reduce(0, +), 25, "outside counts as zero")
    var dot = [Float](repeating: 0, count: 21 * 21)
    dot[10 * 21 + 10] = 1
    let blurred = MaskFilters.gaussianBlur(dot, width: 21, height: 21, sigma: 2)
    XCTAssertEqual(blurred.reduce(0, +), 1, accuracy: 1e-5)
    XCTAssertEqual(blurred[10 * 21 + 12] / blurred[10 * 21 + 10], Float(exp(-0.5)), accuracy: 1e-5)
  }
}
