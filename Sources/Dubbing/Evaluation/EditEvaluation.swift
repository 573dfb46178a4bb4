import Foundation
import Media
import Networks
import Tensors

/// Where one clip's landmarks come from as the evaluation reads it frame by frame: a landmark
/// file (`RecordedLandmarks`) or detection and tracking (`LandmarkTracker`).
public protocol FrameLandmarkSource {
  /// Throws when the source cannot describe a clip of this many frames of this size.
  func check(clip: String, frameCount: Int, width: Int, height: Int) throws
  /// The landmarks of frame `index` (frames arrive in order), in that frame's pixels.
  mutating func landmarks(frame index: Int, image: RGBImage) -> TrackedLandmarks
}

/// A landmark file's track (`redub tools landmarks`, `redub tools audio2landmarks`) read frame
/// by frame; it must have the clip's frame count and frame size.
public struct RecordedLandmarks: FrameLandmarkSource {
  public let track: LandmarkTrack
  /// The file, for messages.
  public let path: String

  public init(track: LandmarkTrack, path: String) {
    self.track = track
    self.path = path
  }

  /// Reads a landmark file; anything else is `LandmarkTrackError.malformed` naming the file.
  public init(contentsOf url: URL) throws {
    do {
      self.init(track: try LandmarkTrack(contentsOf: url), path: url.path)
    } catch let error as LandmarkTrackError {
      throw error
    } catch {
      throw LandmarkTrackError.malformed(url.path, "\(error)")
    }
  }

  public func check(clip: String, frameCount: Int, width: Int, height: Int) throws {
    guard track.frames.count == frameCount else {
      throw EvaluationError.landmarkFrameCount(landmarks: path, frames: track.frames.count, clip: clip, clipFrames: frameCount)
    }
    guard track.width == width, track.height == height else {
      throw EvaluationError.landmarkFrameSize(landmarks: path, width: track.width, height: track.height,
                                              clip: clip, clipWidth: width, clipHeight: height)
    }
  }

  public func landmarks(frame index: Int, image: RGBImage) -> TrackedLandmarks { track.frames[index] }
}

extension LandmarkTracker: FrameLandmarkSource {
  public func check(clip: String, frameCount: Int, width: Int, height: Int) throws {}
  public mutating func landmarks(frame index: Int, image: RGBImage) -> TrackedLandmarks { track(image) }
}

public enum EvaluationError: Error, CustomStringConvertible, Equatable {
  case frameCountMismatch(edited: String, editedFrames: Int, reference: String, referenceFrames: Int)
  case frameSizeMismatch(edited: String, editedWidth: Int, editedHeight: Int, reference: String, referenceWidth: Int, referenceHeight: Int)
  case landmarkFrameCount(landmarks: String, frames: Int, clip: String, clipFrames: Int)
  case landmarkFrameSize(landmarks: String, width: Int, height: Int, clip: String, clipWidth: Int, clipHeight: Int)
  case framesTooSmall(width: Int, height: Int, minimum: Int)
  case clipEnded(path: String, frames: Int, expected: Int)

  public var description: String {
    switch self {
    case let .frameCountMismatch(edited, ef, reference, rf):
      "the edited clip \(edited) has \(ef) frames and the reference \(reference) has \(rf); "
        + "evaluate an edit against the clip it was made from (same frames, same size)"
    case let .frameSizeMismatch(edited, ew, eh, reference, rw, rh):
      "the edited clip \(edited) is \(ew)×\(eh) and the reference \(reference) is \(rw)×\(rh); "
        + "evaluate an edit against the clip it was made from (same frames, same size)"
    case let .landmarkFrameCount(landmarks, frames, clip, clipFrames):
      "\(landmarks) has landmarks for \(frames) frames but \(clip) has \(clipFrames); give the landmarks of that clip"
    case let .landmarkFrameSize(landmarks, w, h, clip, cw, ch):
      "\(landmarks) holds landmarks of \(w)×\(h) frames but \(clip) is \(cw)×\(ch); give the landmarks of that clip"
    case let .framesTooSmall(w, h, minimum):
      "the frames are \(w)×\(h); SSIM's window needs at least \(minimum)×\(minimum)"
    case let .clipEnded(path, frames, expected):
      "\(path) ended after \(frames) of its \(expected) frames (a truncated or damaged file?)"
    }
  }
}

/// The paper's quality metrics (Table I) for an edited clip against its reference, per frame and
/// averaged, and lip-sync against target landmarks. See `EditEvaluator`.
///
/// In JSON (`jsonData()`), a PSNR of +∞ (identical frames) is the string "inf", and a metric
/// that was not computed for a frame (no LPIPS network; no face on either side) is null.
public struct EditEvaluation: Sendable, Encodable {
  public struct Frame: Sendable, Encodable, Equatable {
    public var index: Int
    /// dB, peak 1; +∞ for identical frames.
    public var psnr: Double
    public var ssim: Double
    public var lpips: Double?
    /// F-LD: mean distance over the 68 landmarks, edited vs. reference (reference frame pixels).
    public var fullLandmarkDistance: Double?
    /// M-LD: mean distance over the mouth's 20 landmarks, edited vs. reference.
    public var mouthLandmarkDistance: Double?
    /// M-LD between the edited clip's mouth and the target landmarks' mouth.
    public var lipSyncDistance: Double?

    enum CodingKeys: String, CodingKey {
      case index, psnr, ssim, lpips
      case fullLandmarkDistance = "f_ld", mouthLandmarkDistance = "m_ld", lipSyncDistance = "lip_sync_m_ld"
    }

    public func encode(to encoder: Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(index, forKey: .index)
      try c.encode(psnr, forKey: .psnr)
      try c.encode(ssim, forKey: .ssim)
      try c.encode(lpips, forKey: .lpips)
      try c.encode(fullLandmarkDistance, forKey: .fullLandmarkDistance)
      try c.encode(mouthLandmarkDistance, forKey: .mouthLandmarkDistance)
      try c.encode(lipSyncDistance, forKey: .lipSyncDistance)
    }
  }

  /// Means over frames; each landmark mean over the frames where it was computed (nil when none).
  public struct Means: Sendable, Encodable, Equatable {
    /// The mean of the per-frame PSNRs (+∞ when any frame is identical to its reference).
    public var psnr: Double
    public var ssim: Double
    public var lpips: Double?
    public var fullLandmarkDistance: Double?
    public var mouthLandmarkDistance: Double?
    public var lipSyncDistance: Double?

    enum CodingKeys: String, CodingKey {
      case psnr, ssim, lpips
      case fullLandmarkDistance = "f_ld", mouthLandmarkDistance = "m_ld", lipSyncDistance = "lip_sync_m_ld"
    }

    public func encode(to encoder: Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(psnr, forKey: .psnr)
      try c.encode(ssim, forKey: .ssim)
      try c.encode(lpips, forKey: .lpips)
      try c.encode(fullLandmarkDistance, forKey: .fullLandmarkDistance)
      try c.encode(mouthLandmarkDistance, forKey: .mouthLandmarkDistance)
      try c.encode(lipSyncDistance, forKey: .lipSyncDistance)
    }
  }

  public var edited: String
  public var reference: String
  public var targetLandmarks: String?
  public var frameCount: Int
  public var width: Int
  public var height: Int
  /// The frame size LPIPS saw (height, width), when it ran.
  public var lpipsInputSize: [Int]?
  /// Frames identical to their reference (PSNR +∞).
  public var identicalFrames: Int
  /// Frames left out of F-LD and M-LD: no face in the edited or the reference frame (or no
  /// landmarks for either clip).
  public var framesWithoutLandmarks: [Int]
  /// Frames left out of lip-sync: no face in the edited frame or no target for it.
  public var framesWithoutLipSync: [Int]
  /// What was left out and why.
  public var notes: [String]
  public var means: Means
  public var frames: [Frame]

  enum CodingKeys: String, CodingKey {
    case edited, reference, frameCount = "frame_count", width, height, means, frames, notes
    case targetLandmarks = "target_landmarks", lpipsInputSize = "lpips_input_size", identicalFrames = "identical_frames"
    case framesWithoutLandmarks = "frames_without_landmarks", framesWithoutLipSync = "frames_without_lip_sync"
    case landmarkUnit = "landmark_unit", definitions
  }

  /// What the landmark distances are measured in.
  public static let landmarkUnit = "pixels of the reference frame"
  /// The metrics' definitions, carried in the JSON so a reader needs no documentation.
  public static let definitions: [String: String] = [
    "psnr": "10·log10(1/MSE) in dB, RGB in [0,1], per frame; \"inf\" for identical frames; mean of per-frame values",
    "ssim": "Wang et al. 2004 as scikit-image structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1): Gaussian window 11×11 σ 1.5, K1 0.01, K2 0.03, mean of the R, G, B channels",
    "lpips": "LPIPS (the models folder's lpips.safetensors) on whole frames resized bilinearly without antialiasing to lpips_input_size [height, width] (short side 256 unless --lpips-size), inputs in [-1,1]",
    "f_ld": "mean Euclidean distance over the 68 landmarks, edited vs. reference, in reference frame pixels",
    "m_ld": "mean Euclidean distance over the mouth landmarks 48–67, edited vs. reference, in reference frame pixels",
    "lip_sync_m_ld": "mean Euclidean distance over the mouth landmarks 48–67, edited vs. target landmarks, in frame pixels",
  ]

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(edited, forKey: .edited)
    try c.encode(reference, forKey: .reference)
    try c.encode(targetLandmarks, forKey: .targetLandmarks)
    try c.encode(frameCount, forKey: .frameCount)
    try c.encode(width, forKey: .width)
    try c.encode(height, forKey: .height)
    try c.encode(lpipsInputSize, forKey: .lpipsInputSize)
    try c.encode(identicalFrames, forKey: .identicalFrames)
    try c.encode(framesWithoutLandmarks, forKey: .framesWithoutLandmarks)
    try c.encode(framesWithoutLipSync, forKey: .framesWithoutLipSync)
    try c.encode(Self.landmarkUnit, forKey: .landmarkUnit)
    try c.encode(Self.definitions, forKey: .definitions)
    try c.encode(notes, forKey: .notes)
    try c.encode(means, forKey: .means)
    try c.encode(frames, forKey: .frames)
  }

  /// Pretty JSON with sorted keys; +∞ is written as "inf" (JSON has no infinity).
  public func jsonData() throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try encoder.encode(self)
  }

  /// Means of the per-frame values (landmark means over the frames that have them).
  public static func means(of frames: [Frame]) -> Means {
    func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
    return Means(
      psnr: mean(frames.map(\.psnr)) ?? .nan,
      ssim: mean(frames.map(\.ssim)) ?? .nan,
      lpips: mean(frames.compactMap(\.lpips)),
      fullLandmarkDistance: mean(frames.compactMap(\.fullLandmarkDistance)),
      mouthLandmarkDistance: mean(frames.compactMap(\.mouthLandmarkDistance)),
      lipSyncDistance: mean(frames.compactMap(\.lipSyncDistance)))
  }
}

/// Computes `EditEvaluation` for an edited clip against its reference, streaming both clips
/// frame by frame (only the current pair of frames is in memory).
///
/// Per frame: PSNR and SSIM (`ImageQuality`, `StructuralSimilarity`) on RGB in [0, 1]; LPIPS
/// when a network is given (`PerceptualDistance`); F-LD and M-LD (`LandmarkDistance`) when both
/// clips have landmarks and both frames a face; lip-sync (M-LD of the edited frame against the
/// target landmarks) when the edited clip has landmarks, the frame a face and the target one.
///
/// The clips must match: the same frame count and the same frame size, else
/// `EvaluationError.frameCountMismatch` / `.frameSizeMismatch` before any frame is read — an edit
/// keeps every frame of its clip, so a mismatch means the wrong reference. Landmark files must
/// describe their clip (frame count and size) and the target the edited clip.
public struct EditEvaluator {
  public var ssim = StructuralSimilarity()
  public var perceptual: PerceptualDistance?

  public init(perceptual: PerceptualDistance? = nil) {
    self.perceptual = perceptual
  }

  /// Progress: (frames done, frame count).
  public typealias Progress = (Int, Int) -> Void

  public func evaluate(edited: String, reference: String,
                       editedLandmarks: (any FrameLandmarkSource)? = nil,
                       referenceLandmarks: (any FrameLandmarkSource)? = nil,
                       target: RecordedLandmarks? = nil,
                       notes initialNotes: [String] = [],
                       progress: Progress = { _, _ in }) throws -> EditEvaluation {
    let editedReader = try VideoReader(path: edited)
    let referenceReader = try VideoReader(path: reference)
    let e = editedReader.info, r = referenceReader.info
    guard e.displayWidth == r.displayWidth, e.displayHeight == r.displayHeight else {
      throw EvaluationError.frameSizeMismatch(edited: edited, editedWidth: e.displayWidth, editedHeight: e.displayHeight,
                                              reference: reference, referenceWidth: r.displayWidth, referenceHeight: r.displayHeight)
    }
    guard e.frameCount == r.frameCount else {
      throw EvaluationError.frameCountMismatch(edited: edited, editedFrames: e.frameCount, reference: reference, referenceFrames: r.frameCount)
    }
    let count = r.frameCount, width = r.displayWidth, height = r.displayHeight
    let window = 2 * ssim.radius + 1
    guard width >= window, height >= window else { throw EvaluationError.framesTooSmall(width: width, height: height, minimum: window) }
    try editedLandmarks?.check(clip: edited, frameCount: count, width: width, height: height)
    try referenceLandmarks?.check(clip: reference, frameCount: count, width: width, height: height)
    try target?.check(clip: edited, frameCount: count, width: width, height: height)

    var notes = initialNotes
    if perceptual == nil { notes.append("LPIPS omitted: no LPIPS network (give --models DIR with lpips.safetensors)") }
    if editedLandmarks == nil || referenceLandmarks == nil {
      let which = editedLandmarks == nil && referenceLandmarks == nil ? "either clip" : editedLandmarks == nil ? "the edited clip" : "the reference clip"
      notes.append("F-LD and M-LD omitted: no landmarks for \(which) (give landmark files, or --models DIR with s3fd and fan)")
    }
    if target != nil && editedLandmarks == nil { notes.append("lip-sync omitted: no landmarks for the edited clip") }

    var editedSource = editedLandmarks, referenceSource = referenceLandmarks
    var frames: [EditEvaluation.Frame] = []
    frames.reserveCapacity(count)
    var withoutLandmarks: [Int] = [], withoutLipSync: [Int] = []
    var identical = 0
    progress(0, count)
    for index in 0..<count {
      guard let a = try editedReader.nextFrame() else { throw EvaluationError.clipEnded(path: edited, frames: index, expected: count) }
      guard let b = try referenceReader.nextFrame() else { throw EvaluationError.clipEnded(path: reference, frames: index, expected: count) }
      guard a.image.width == b.image.width, a.image.height == b.image.height else {
        throw EvaluationError.frameSizeMismatch(edited: edited, editedWidth: a.image.width, editedHeight: a.image.height,
                                                reference: reference, referenceWidth: b.image.width, referenceHeight: b.image.height)
      }
      var frame = EditEvaluation.Frame(index: index, psnr: ImageQuality.psnr(a.image, b.image), ssim: ssim(a.image, b.image))
      if frame.psnr == .infinity { identical += 1 }
      frame.lpips = perceptual.map { $0(a.image, b.image) }
      let editedPoints = editedSource?.landmarks(frame: index, image: a.image)
      let referencePoints = referenceSource?.landmarks(frame: index, image: b.image)
      if let p = editedPoints, let q = referencePoints, p.faceFound, q.faceFound {
        frame.fullLandmarkDistance = LandmarkDistance.full(p.points, q.points)
        frame.mouthLandmarkDistance = LandmarkDistance.mouth(p.points, q.points)
      } else if editedSource != nil && referenceSource != nil {
        withoutLandmarks.append(index)
      }
      if let target {
        let t = target.track.frames[index]
        if let p = editedPoints, p.faceFound, t.faceFound {
          frame.lipSyncDistance = LandmarkDistance.mouth(p.points, t.points)
        } else if editedSource != nil {
          withoutLipSync.append(index)
        }
      }
      frames.append(frame)
      progress(index + 1, count)
    }
    if !withoutLandmarks.isEmpty {
      notes.append("\(withoutLandmarks.count) frame(s) without a face in the edited or the reference clip, "
        + "left out of F-LD and M-LD: \(LandmarkTrackError.ranges(withoutLandmarks))")
    }
    if !withoutLipSync.isEmpty {
      notes.append("\(withoutLipSync.count) frame(s) without a face in the edited clip or without a target, "
        + "left out of lip-sync: \(LandmarkTrackError.ranges(withoutLipSync))")
    }
    return EditEvaluation(
      edited: edited, reference: reference, targetLandmarks: target?.path, frameCount: count, width: width, height: height,
      lpipsInputSize: perceptual.map { p in let s = p.inputSize(width: width, height: height); return [s.height, s.width] },
      identicalFrames: identical, framesWithoutLandmarks: withoutLandmarks, framesWithoutLipSync: withoutLipSync,
      notes: notes, means: EditEvaluation.means(of: frames), frames: frames)
  }
}
