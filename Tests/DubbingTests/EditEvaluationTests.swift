import Foundation
import Media
import Networks
import Tensors
import XCTest

@testable import Dubbing

/// `redub eval`'s metrics: PSNR and SSIM against scikit-image, landmark distances computed by
/// hand, and the evaluator on two small lossless clips with landmark tracks.
final class EditEvaluationTests: XCTestCase {
  struct Reference: Decodable {
    struct Case: Decodable {
      var name: String
      var width: Int
      var height: Int
      var reference: String
      var test: String
      var psnr: Double
      var ssim: Double
      var ssim_channels: [Double]
    }
    var generator: String
    var cases: [Case]
  }

  static func image(_ base64: String, width: Int, height: Int) throws -> RGBImage {
    let data = try XCTUnwrap(Data(base64Encoded: base64))
    return RGBImage(width: width, height: height, pixels: [UInt8](data))
  }

  /// scripts/make_eval_fixtures.py: skimage's peak_signal_noise_ratio and structural_similarity.
  func testPSNRAndSSIMMatchScikitImage() throws {
    let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/eval_reference.json")
    let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    XCTAssertEqual(reference.cases.count, 3)
    let ssim = StructuralSimilarity()
    for c in reference.cases {
      let x = try Self.image(c.reference, width: c.width, height: c.height)
      let y = try Self.image(c.test, width: c.width, height: c.height)
      XCTAssertEqual(ImageQuality.psnr(x, y), c.psnr, accuracy: 1e-4, c.name)
      XCTAssertEqual(ssim(x, y), c.ssim, accuracy: 1e-4, c.name)
      let channels = ssim.channels(x, y)
      for k in 0..<3 { XCTAssertEqual(channels[k], c.ssim_channels[k], accuracy: 1e-4, "\(c.name) channel \(k)") }
      // Symmetric in its arguments.
      XCTAssertEqual(ssim(y, x), c.ssim, accuracy: 1e-4, c.name)
    }
  }

  func testSSIMWindowIsWangEtAl() {
    let ssim = StructuralSimilarity()
    XCTAssertEqual(ssim.radius, 5)
    let w = ssim.weights
    XCTAssertEqual(w.count, 11)
    XCTAssertEqual(w.reduce(0, +), 1, accuracy: 1e-12)
    XCTAssertEqual(w[0], w[10], accuracy: 1e-15)
    XCTAssertEqual(w[5] / w[4], exp(0.5 / 2.25), accuracy: 1e-12)
  }

  func testIdenticalFramesGiveInfinitePSNRAndUnitSSIM() throws {
    let x = Self.pattern(width: 37, height: 23, frame: 1)
    XCTAssertEqual(ImageQuality.psnr(x, x), .infinity)
    XCTAssertEqual(ImageQuality.meanSquaredError(x, x), 0)
    XCTAssertEqual(StructuralSimilarity()(x, x), 1, accuracy: 1e-12)
    // One byte off in one pixel: MSE = (1/255)² / (37·23·3).
    var y = x
    y.pixels[100] = y.pixels[100] &+ 1
    XCTAssertEqual(ImageQuality.psnr(x, y), 10 * log10(255 * 255 * 37 * 23 * 3), accuracy: 1e-9)
    XCTAssertLessThan(StructuralSimilarity()(x, y), 1)
  }

  func testLandmarkDistancesByHand() {
    let base = Self.face()
    // Every non-mouth point moved by (3, 4): 5 px; the mouth by (0, 2): 2 px.
    let moved = base.indices.map { base[$0] + ($0 >= 48 ? SIMD2(0, 2) : SIMD2(3, 4)) }
    XCTAssertEqual(LandmarkDistance.full(base, moved), (48 * 5 + 20 * 2) / 68.0, accuracy: 1e-12)
    XCTAssertEqual(LandmarkDistance.mouth(base, moved), 2, accuracy: 1e-12)
    XCTAssertEqual(LandmarkDistance.full(base, base), 0)
    XCTAssertEqual(LandmarkDistance.mouth(moved, base), 2, accuracy: 1e-12)
  }

  func testLPIPSOfIdenticalFramesIsZero() {
    let network = LPIPS(trunk: .alex)
    DemoModels.randomize(network, seed: 3)
    let lpips = PerceptualDistance(network: network, shortSide: 64)
    XCTAssertTrue(lpips.inputSize(width: 48, height: 40) == (64, 77))
    XCTAssertTrue(lpips.inputSize(width: 30, height: 90) == (192, 64))
    let x = Self.pattern(width: 48, height: 40, frame: 0), y = Self.pattern(width: 48, height: 40, frame: 4)
    XCTAssertEqual(lpips(x, x), 0)
    XCTAssertGreaterThan(lpips(x, y), 1e-4)
  }

  /// Ten frames of 48×40 written losslessly; the edited clip differs in frames 2 and 5, the
  /// landmarks' mouths move by 0.25·i px, the reference has no face in frame 3, the edited clip
  /// none in frame 7 and the target none in frame 8.
  func testEvaluatorOnClipsWithLandmarkTracks() throws {
    let folder = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let (width, height, count) = (48, 40, 10)
    let referenceFrames = (0..<count).map { Self.pattern(width: width, height: height, frame: $0) }
    var editedFrames = referenceFrames
    editedFrames[2] = Self.perturbed(referenceFrames[2], seed: 2)
    editedFrames[5] = Self.perturbed(referenceFrames[5], seed: 5)
    let referencePath = folder.appendingPathComponent("reference.mkv").path
    let editedPath = folder.appendingPathComponent("edited.mkv").path
    try Self.writeLossless(referenceFrames, to: referencePath)
    try Self.writeLossless(editedFrames, to: editedPath)

    let base = Self.face()
    func shifted(_ i: Int) -> [SIMD2<Double>] { base.indices.map { base[$0] + ($0 >= 48 ? SIMD2(0, 0.25 * Double(i)) : .zero) } }
    func frame(_ points: [SIMD2<Double>]) -> TrackedLandmarks { TrackedLandmarks(points: points, scores: Array(repeating: 0.9, count: 68), source: .tracked) }
    let editedTrack = LandmarkTrack(frames: (0..<count).map { $0 == 7 ? .missing : frame(shifted($0)) }, width: width, height: height, frameRate: 25)
    let referenceTrack = LandmarkTrack(frames: (0..<count).map { $0 == 3 ? .missing : frame(base) }, width: width, height: height, frameRate: 25)
    let targetTrack = LandmarkTrack(frames: (0..<count).map { $0 == 8 ? .missing : frame(shifted(6)) }, width: width, height: height, frameRate: 25)
    let network = LPIPS(trunk: .alex)
    DemoModels.randomize(network, seed: 3)
    var progress: [Int] = []
    let result = try EditEvaluator(perceptual: PerceptualDistance(network: network, shortSide: 64)).evaluate(
      edited: editedPath, reference: referencePath,
      editedLandmarks: RecordedLandmarks(track: editedTrack, path: "edited.safetensors"),
      referenceLandmarks: RecordedLandmarks(track: referenceTrack, path: "reference.safetensors"),
      target: RecordedLandmarks(track: targetTrack, path: "target.safetensors")) { done, total in
        XCTAssertEqual(total, count)
        progress.append(done)
      }
    XCTAssertEqual(progress, Array(0...count))
    XCTAssertEqual(result.frameCount, count)
    XCTAssertEqual([result.width, result.height], [width, height])
    XCTAssertEqual(result.lpipsInputSize, [64, 77])
    XCTAssertEqual(result.identicalFrames, 8)
    XCTAssertEqual(result.framesWithoutLandmarks, [3, 7])
    XCTAssertEqual(result.framesWithoutLipSync, [7, 8])
    for f in result.frames {
      let i = f.index
      if i == 2 || i == 5 {
        XCTAssertEqual(f.psnr, ImageQuality.psnr(editedFrames[i], referenceFrames[i]), accuracy: 1e-9, "frame \(i)")
        XCTAssertLessThan(f.psnr, 40)
        XCTAssertEqual(f.ssim, StructuralSimilarity()(editedFrames[i], referenceFrames[i]), accuracy: 1e-12)
        XCTAssertLessThan(f.ssim, 0.99)
        XCTAssertGreaterThan(try XCTUnwrap(f.lpips), 1e-4)
      } else {
        XCTAssertEqual(f.psnr, .infinity, "frame \(i) is unchanged (lossless clips)")
        XCTAssertEqual(f.ssim, 1, accuracy: 1e-12)
        XCTAssertEqual(f.lpips, 0)
      }
      if i == 3 || i == 7 {
        XCTAssertNil(f.fullLandmarkDistance)
        XCTAssertNil(f.mouthLandmarkDistance)
      } else {
        XCTAssertEqual(try XCTUnwrap(f.mouthLandmarkDistance), 0.25 * Double(i), accuracy: 1e-5)
        XCTAssertEqual(try XCTUnwrap(f.fullLandmarkDistance), 0.25 * Double(i) * 20 / 68, accuracy: 1e-5)
      }
      if i == 7 || i == 8 {
        XCTAssertNil(f.lipSyncDistance)
      } else {
        XCTAssertEqual(try XCTUnwrap(f.lipSyncDistance), abs(0.25 * Double(i) - 1.5), accuracy: 1e-5)
      }
    }
    let landmarkFrames = [0, 1, 2, 4, 5, 6, 8, 9], syncFrames = [0, 1, 2, 3, 4, 5, 6, 9]
    XCTAssertEqual(result.means.psnr, .infinity)
    XCTAssertEqual(result.means.ssim, result.frames.map(\.ssim).reduce(0, +) / 10, accuracy: 1e-12)
    XCTAssertEqual(try XCTUnwrap(result.means.mouthLandmarkDistance),
                   landmarkFrames.map { 0.25 * Double($0) }.reduce(0, +) / 8, accuracy: 1e-5)
    XCTAssertEqual(try XCTUnwrap(result.means.fullLandmarkDistance),
                   landmarkFrames.map { 0.25 * Double($0) * 20 / 68 }.reduce(0, +) / 8, accuracy: 1e-5)
    XCTAssertEqual(try XCTUnwrap(result.means.lipSyncDistance),
                   syncFrames.map { abs(0.25 * Double($0) - 1.5) }.reduce(0, +) / 8, accuracy: 1e-5)
    XCTAssertTrue(result.notes.contains { $0.contains("left out of F-LD and M-LD: 3, 7") }, "\(result.notes)")

    // JSON: +∞ as "inf", a metric not computed as null.
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: result.jsonData()) as? [String: Any])
    let frames = try XCTUnwrap(json["frames"] as? [[String: Any]])
    XCTAssertEqual(frames.count, count)
    XCTAssertEqual(frames[0]["psnr"] as? String, "inf")
    XCTAssertEqual(frames[2]["psnr"] as? Double, result.frames[2].psnr)
    XCTAssertTrue(frames[3]["f_ld"] is NSNull)
    XCTAssertEqual(frames[4]["m_ld"] as? Double, result.frames[4].mouthLandmarkDistance)
    XCTAssertEqual((json["means"] as? [String: Any])?["psnr"] as? String, "inf")
    XCTAssertEqual(json["frames_without_lip_sync"] as? [Int], [7, 8])

    // Without a network or landmarks those metrics are left out with a note; PSNR/SSIM stay.
    let bare = try EditEvaluator().evaluate(edited: editedPath, reference: referencePath)
    XCTAssertEqual(bare.frames.map(\.psnr), result.frames.map(\.psnr))
    XCTAssertTrue(bare.frames.allSatisfy { $0.lpips == nil && $0.fullLandmarkDistance == nil && $0.lipSyncDistance == nil })
    XCTAssertEqual(bare.framesWithoutLandmarks, [], "no landmarks at all is a note, not a list of frames")
    XCTAssertTrue(bare.notes.contains { $0.contains("LPIPS omitted") }, "\(bare.notes)")
    XCTAssertTrue(bare.notes.contains { $0.contains("F-LD and M-LD omitted") }, "\(bare.notes)")
  }

  func testMismatchedClipsAndLandmarksAreRefused() throws {
    let folder = try Self.temporaryFolder()
    defer { try? FileManager.default.removeItem(at: folder) }
    let frames = (0..<4).map { Self.pattern(width: 48, height: 40, frame: $0) }
    let clip = folder.appendingPathComponent("clip.mkv").path
    let shorter = folder.appendingPathComponent("shorter.mkv").path
    let wider = folder.appendingPathComponent("wider.mkv").path
    try Self.writeLossless(frames, to: clip)
    try Self.writeLossless(Array(frames.prefix(3)), to: shorter)
    try Self.writeLossless((0..<4).map { Self.pattern(width: 50, height: 40, frame: $0) }, to: wider)
    let evaluator = EditEvaluator()
    XCTAssertThrowsError(try evaluator.evaluate(edited: shorter, reference: clip)) { error in
      XCTAssertEqual(error as? EvaluationError, .frameCountMismatch(edited: shorter, editedFrames: 3, reference: clip, referenceFrames: 4))
      XCTAssertTrue("\(error)".contains("has 3 frames"), "\(error)")
    }
    XCTAssertThrowsError(try evaluator.evaluate(edited: wider, reference: clip)) { error in
      XCTAssertEqual(error as? EvaluationError, .frameSizeMismatch(edited: wider, editedWidth: 50, editedHeight: 40,
                                                                   reference: clip, referenceWidth: 48, referenceHeight: 40))
    }
    let face = TrackedLandmarks(points: Self.face(), scores: Array(repeating: 1, count: 68), source: .detected)
    let short = RecordedLandmarks(track: LandmarkTrack(frames: Array(repeating: face, count: 3), width: 48, height: 40, frameRate: 25), path: "l.safetensors")
    XCTAssertThrowsError(try evaluator.evaluate(edited: clip, reference: clip, editedLandmarks: short, referenceLandmarks: short)) { error in
      XCTAssertEqual(error as? EvaluationError, .landmarkFrameCount(landmarks: "l.safetensors", frames: 3, clip: clip, clipFrames: 4))
    }
    let otherSize = RecordedLandmarks(track: LandmarkTrack(frames: Array(repeating: face, count: 4), width: 320, height: 240, frameRate: 25), path: "t.safetensors")
    XCTAssertThrowsError(try evaluator.evaluate(edited: clip, reference: clip, target: otherSize)) { error in
      XCTAssertTrue("\(error)".contains("320×240"), "\(error)")
    }
    XCTAssertThrowsError(try evaluator.evaluate(edited: folder.appendingPathComponent("none.mkv").path, reference: clip))
  }

  // MARK: - Helpers

  static func temporaryFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-eval-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
  }

  /// A textured picture that changes from frame to frame.
  static func pattern(width: Int, height: Int, frame: Int) -> RGBImage {
    RGBImage(width: width, height: height) { x, y in
      let r = 128 + 100 * sin(Double(x + 2 * frame) / 3) * cos(Double(y) / 4)
      let g = 40 + 3 * Double(x) + 2 * Double(y) + Double(frame)
      let b = Double((x / 4 + y / 4 + frame) % 2) * 120 + 60
      return (UInt8(clamping: Int(r.rounded())), UInt8(clamping: Int(g.rounded())), UInt8(clamping: Int(b.rounded())))
    }
  }

  /// The picture with deterministic noise of ±25 added and a brighter block.
  static func perturbed(_ image: RGBImage, seed: UInt64) -> RGBImage {
    var out = image
    var state = seed &* 6364136223846793005 &+ 1442695040888963407
    for i in out.pixels.indices {
      state = state &* 6364136223846793005 &+ 1442695040888963407
      let noise = Int((state >> 33) % 51) - 25
      out.pixels[i] = UInt8(clamping: Int(out.pixels[i]) + noise)
    }
    for y in 10..<20 {
      for x in 10..<20 { out.pixels[3 * (y * image.width + x)] = 250 }
    }
    return out
  }

  /// 68 points spread over a 40×32 frame (not a real face; distances are all that matter).
  static func face() -> [SIMD2<Double>] {
    (0..<68).map { i in SIMD2(4 + Double(i % 17) * 2, 6 + Double(i / 17) * 6) }
  }

  /// Lossless RGB video (PNG frames in Matroska), so decoded frames equal the written ones.
  static func writeLossless(_ frames: [RGBImage], to path: String) throws {
    let writer = try VideoWriter(path: path, width: frames[0].width, height: frames[0].height, frameRate: Rational(25, 1),
                                 settings: VideoEncoderSettings(codec: "png", pixelFormat: "rgb24"))
    for frame in frames { try writer.append(frame) }
    try writer.finish()
  }
}
