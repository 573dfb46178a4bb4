import Foundation
import Media
import Networks
import Tensors
import XCTest

@testable import Dubbing

/// A clip whose "face" is a bright square on a dark background: a detector and a landmark
/// estimator that see only pixels let the tracker's decisions be checked exactly.
private struct SquareWorld {
  static let width = 160, height = 120, side = 24

  /// Frame with the square's top-left corner at `corner` (nil: no face) over a background of
  /// gray level `background`.
  static func frame(corner: SIMD2<Int>?, background: UInt8 = 20) -> RGBImage {
    RGBImage(width: width, height: height) { x, y in
      if let c = corner, (c.x..<(c.x + side)).contains(x), (c.y..<(c.y + side)).contains(y) { return (250, 250, 250) }
      return (background, background, background)
    }
  }

  /// The bright pixels' bounding box inside a region (image pixels), or nil.
  static func brightBox(_ image: RGBImage, in region: (x0: Double, y0: Double, x1: Double, y1: Double)) -> FaceBox? {
    var box: (Int, Int, Int, Int)?
    let x0 = max(0, Int(region.x0)), y0 = max(0, Int(region.y0))
    let x1 = min(image.width, Int(region.x1.rounded(.up))), y1 = min(image.height, Int(region.y1.rounded(.up)))
    guard x0 < x1, y0 < y1 else { return nil }
    for y in y0..<y1 {
      for x in x0..<x1 where image.pixels[3 * (y * image.width + x)] > 200 {
        box = box.map { (min($0.0, x), min($0.1, y), max($0.2, x + 1), max($0.3, y + 1)) } ?? (x, y, x + 1, y + 1)
      }
    }
    return box.map { FaceBox(x1: Double($0.0), y1: Double($0.1), x2: Double($0.2), y2: Double($0.3), score: 0.99) }
  }

  /// 68 points on a 17 × 4 grid spanning the box.
  static func points(on box: FaceBox) -> [SIMD2<Double>] {
    (0..<68).map { i in
      SIMD2(box.x1 + box.width * Double(i % 17) / 16, box.y1 + box.height * Double(i / 17) / 3)
    }
  }
}

private final class Counter: @unchecked Sendable { var value = 0 }

private struct SquareDetector: FaceDetecting {
  let calls = Counter()
  func faces(in image: RGBImage) -> [FaceBox] {
    calls.value += 1
    return SquareWorld.brightBox(image, in: (0, 0, Double(image.width), Double(image.height))).map { [$0] } ?? []
  }
}

/// Sees only what is inside the crop frame, as FAN does: a square outside it gives low scores.
private struct SquareEstimator: LandmarkEstimating {
  func landmarks(in image: RGBImage, frame: FANCropFrame) -> (points: [SIMD2<Double>], scores: [Float]) {
    let half = frame.side / 2
    let region = (frame.center.x - half, frame.center.y - half, frame.center.x + half, frame.center.y + half)
    guard let box = SquareWorld.brightBox(image, in: region),
          box.width == Double(SquareWorld.side), box.height == Double(SquareWorld.side) else {
      return (Array(repeating: SIMD2(frame.center.x, frame.center.y), count: 68), Array(repeating: 0.01, count: 68))
    }
    return (SquareWorld.points(on: box), Array(repeating: 0.9, count: 68))
  }
}

final class LandmarkTrackerTests: XCTestCase {
  private func tracker() -> LandmarkTracker<SquareDetector, SquareEstimator> {
    LandmarkTracker(detector: SquareDetector(), estimator: SquareEstimator())
  }

  private func expected(_ corner: SIMD2<Int>) -> [SIMD2<Double>] {
    let side = Double(SquareWorld.side)
    return SquareWorld.points(on: FaceBox(x1: Double(corner.x), y1: Double(corner.y),
                                          x2: Double(corner.x) + side, y2: Double(corner.y) + side))
  }

  func testSteadyShotDetectsOnceAndTracksTheMovingFace() {
    var t = tracker()
    for i in 0..<20 {
      let corner = SIMD2(30 + 2 * i, 40 + i)
      let result = t.track(SquareWorld.frame(corner: corner))
      XCTAssertEqual(result.source, i == 0 ? .detected : .tracked, "frame \(i)")
      XCTAssertEqual(result.points, expected(corner), "frame \(i)")
    }
    XCTAssertEqual(t.detector.calls.value, 1)
    XCTAssertEqual(t.detections, 1)
    XCTAssertEqual(t.sceneCuts, [])
  }

  func testSceneCutRunsTheDetectorAgain() {
    var t = tracker()
    var sources: [LandmarkSource] = []
    for i in 0..<12 {
      // Frame 6 starts a new shot: a bright background and the face elsewhere.
      let corner = i < 6 ? SIMD2(30, 40) : SIMD2(100, 70)
      let result = t.track(SquareWorld.frame(corner: corner, background: i < 6 ? 20 : 120))
      XCTAssertEqual(result.points, expected(corner), "frame \(i)")
      sources.append(result.source)
    }
    XCTAssertEqual(t.sceneCuts, [6])
    XCTAssertEqual(t.detector.calls.value, 2)
    XCTAssertEqual(sources, [.detected] + Array(repeating: .tracked, count: 5) + [.detected] + Array(repeating: .tracked, count: 5))
  }

  func testLostTrackingRunsTheDetectorAgain() {
    var t = tracker()
    // The face jumps across the frame within one shot (too small a change to be a cut): the
    // previous crop no longer holds it, the scores drop, and the detector finds it again.
    let corners = [SIMD2(10, 10), SIMD2(12, 10), SIMD2(120, 80), SIMD2(121, 80)]
    let sources = corners.map { corner -> LandmarkSource in
      let result = t.track(SquareWorld.frame(corner: corner))
      XCTAssertEqual(result.points, expected(corner))
      return result.source
    }
    XCTAssertEqual(t.sceneCuts, [])
    XCTAssertEqual(sources, [.detected, .tracked, .detected, .tracked])
  }

  /// An untrained detector's boxes can be empty, inverted, not finite, far outside the frame or
  /// huge: no face, no crash.
  func testDegenerateDetectorBoxesAreNoFace() {
    struct Degenerate: FaceDetecting {
      func faces(in image: RGBImage) -> [FaceBox] {
        [FaceBox(x1: 10, y1: 10, x2: 10, y2: 30, score: 0.9), FaceBox(x1: 40, y1: 40, x2: 20, y2: 20, score: 0.9),
         FaceBox(x1: .nan, y1: 0, x2: 50, y2: 50, score: 0.9), FaceBox(x1: 1e12, y1: 1e12, x2: 1e12 + 50, y2: 1e12 + 50, score: 0.9),
         FaceBox(x1: -1e6, y1: -1e6, x2: 1e6, y2: 1e6, score: 0.9)]
      }
    }
    var t = LandmarkTracker(detector: Degenerate(), estimator: SquareEstimator())
    XCTAssertEqual(t.track(SquareWorld.frame(corner: SIMD2(30, 30))), .missing)
    XCTAssertEqual(t.detections, 1)
  }

  func testFramesWithoutAFaceAreReportedByIndex() throws {
    var t = tracker()
    let corners: [SIMD2<Int>?] = [SIMD2(30, 30), SIMD2(31, 30), nil, nil, nil, SIMD2(60, 50), SIMD2(61, 50)]
    let results = corners.map { t.track(SquareWorld.frame(corner: $0)) }
    XCTAssertEqual(results.map(\.source), [.detected, .tracked, .none, .none, .none, .detected, .tracked])
    XCTAssertEqual(results[3], .missing)
    XCTAssertEqual(t.detector.calls.value, 5, "the detector looks again on every frame without a face")

    let track = LandmarkTrack(frames: results, width: SquareWorld.width, height: SquareWorld.height, frameRate: 25)
    XCTAssertEqual(track.missingFrames, [2, 3, 4])
    XCTAssertEqual(LandmarkTrackError.missingFaces(track.missingFrames).description,
                   "No face found in 3 frame(s): 2–4. Use --on-missing-face skip to leave them unedited.")
  }

  func testTrackFileRoundTripAndMalformedFiles() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-landmarks-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    var t = tracker()
    let frames = [t.track(SquareWorld.frame(corner: SIMD2(20, 20))), t.track(SquareWorld.frame(corner: nil)),
                  t.track(SquareWorld.frame(corner: SIMD2(40, 30)))]
    let track = LandmarkTrack(frames: frames, width: 160, height: 120, frameRate: 29.97)
    let url = folder.appendingPathComponent("l.safetensors")
    try track.write(to: url)
    XCTAssertEqual(try LandmarkTrack(contentsOf: url), track)
    let file = try SafeTensorsFile(contentsOf: url)
    XCTAssertEqual(try file.tensor("landmarks").shape, [3, 68, 2])
    XCTAssertEqual(try file.tensor("face_found").scalars, [1, 0, 1])
    XCTAssertEqual(try file.tensor("source").scalars, [1, 0, 1])

    let bad = folder.appendingPathComponent("bad.safetensors")
    try SafeTensors.write(["landmarks": Tensor(zeros: [3, 5, 2]), "face_found": Tensor(zeros: [3]),
                           "landmark_scores": Tensor(zeros: [3, 68]), "source": Tensor(zeros: [3])], to: bad)
    XCTAssertThrowsError(try LandmarkTrack(contentsOf: bad)) { error in
      XCTAssertTrue("\(error)".contains("do not describe [frames, 68, 2]"), "\(error)")
    }
  }

  func testRanges() {
    XCTAssertEqual(LandmarkTrackError.ranges([3, 7, 8, 9, 12]), "3, 7–9, 12")
    XCTAssertEqual(LandmarkTrackError.ranges([]), "")
  }

  /// FAN's crop shows image point `frame.imagePoint(p)` at crop pixel p, so landmarks decoded
  /// in the crop land back where they were.
  func testFANCropGeometry() {
    let frame = FANCropFrame(center: SIMD2(70.3, 52.8), scale: 0.4)  // 80 image px → 256 crop px
    let dot = SIMD2(64, 47)
    let image = RGBImage(width: 160, height: 120) { x, y in x == dot.x && y == dot.y ? (255, 255, 255) : (0, 0, 0) }
    let crop = FANLandmarkEstimator.crop(frame: frame, size: 256).crop(image)
    // The dot covers crop pixels around its mapped centre; their weighted mean is the centre.
    var (sum, weighted) = (0.0, SIMD2<Double>.zero)
    let values = crop.scalars
    for y in 0..<256 {
      for x in 0..<256 {
        let v = Double(values[y * 256 + x])
        sum += v
        weighted += v * SIMD2(Double(x), Double(y))
      }
    }
    let centroid = weighted / sum
    let mapped = frame.cropPoint(SIMD2(Double(dot.x), Double(dot.y)), resolution: 256)
    XCTAssertEqual(centroid.x, mapped.x, accuracy: 0.05)
    XCTAssertEqual(centroid.y, mapped.y, accuracy: 0.05)
  }

  /// S3FD on a frame larger than its detection size sees a scaled copy; its boxes come back in
  /// frame pixels. With every weight zero the regression is zero and each box is a prior box.
  func testS3FDDetectorScalesBoxesBackToTheFrame() {
    let network = S3FD()
    // Make every location a confident face (class 1 logit 10).
    for (name, parameter) in network.namedParameters where name.hasSuffix("_mbox_conf.bias") {
      var bias = [Float](repeating: 0, count: parameter.shape[0])
      bias[bias.count - 1] = 10
      parameter.value = Tensor(bias, shape: parameter.shape)
    }
    let image = SquareWorld.frame(corner: SIMD2(50, 40))  // 160 × 120
    let full = S3FDFaceDetector(network: network, maximumSide: 640).faces(in: image)
    XCTAssertEqual(full, network.detect(rgb: image.tensor() * 255)[0], "no scaling below the detection size")
    let half = S3FDFaceDetector(network: network, maximumSide: 80).faces(in: image)
    let seen = network.detect(rgb: (image.tensor() * 255).resizeBilinear(to: (60, 80), alignCorners: false))[0]
    XCTAssertFalse(half.isEmpty)
    XCTAssertEqual(half, seen.map { FaceBox(x1: $0.x1 * 2, y1: $0.y1 * 2, x2: $0.x2 * 2, y2: $0.y2 * 2, score: $0.score) })
  }
}
