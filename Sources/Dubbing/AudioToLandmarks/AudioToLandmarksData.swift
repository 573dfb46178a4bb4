import Foundation
import Media
import Networks
import Tensors

/// One training clip: a speaker saying a sentence with an emotion, seen from one camera angle —
/// the MFCC window of every video frame and the frame's landmarks.
public struct AudioToLandmarksClip: Sendable {
  public var name: String
  public var emotion: String
  public var speaker: String
  public var sentence: String
  public var angle: String
  /// Held out for validation.
  public var isValidation: Bool
  /// [T, 28, 12].
  public let windows: Tensor
  /// [T][68] in pixels; frames without a face filled by linear interpolation.
  public let landmarks: [[SIMD2<Double>]]
  public let canonical: [[SIMD2<Double>]]
  public let poses: [Similarity2D]
  public let clipFrame: (center: SIMD2<Double>, size: Double)

  public var frameCount: Int { landmarks.count }

  public init(name: String, windows: Tensor, landmarks: [[SIMD2<Double>]], faceFound: [Bool], emotion: String,
              speaker: String = "speaker", sentence: String = "", angle: String = "front", isValidation: Bool = false) throws {
    guard windows.rank == 3, windows.shape[0] == landmarks.count, landmarks.count == faceFound.count else {
      throw AudioToLandmarksError.mismatch("clip \(name): \(windows.shape[0]) MFCC windows, \(landmarks.count) landmark frames")
    }
    guard landmarks.allSatisfy({ $0.count == 68 }) else { throw AudioToLandmarksError.mismatch("clip \(name): landmarks are not 68 points") }
    guard let filled = Self.fillMissing(landmarks, faceFound: faceFound) else {
      throw AudioToLandmarksError.noFace("clip \(name) has no frame with a face")
    }
    (self.name, self.emotion, self.speaker, self.sentence, self.angle, self.isValidation) =
      (name, emotion, speaker, sentence, angle, isValidation)
    self.windows = windows
    self.landmarks = filled
    poses = filled.map(LandmarkGeometry.pose(of:))
    canonical = zip(filled, poses).map { points, pose in points.map(pose.inverse) }
    clipFrame = LandmarkGeometry.clipFrame(filled)
  }

  /// Clip-normalized landmarks of frame t.
  public func normalized(_ t: Int) -> [SIMD2<Double>] { landmarks[t].map { ($0 - clipFrame.center) / clipFrame.size } }

  /// Frame t's head carrying frame e's expression: e's canonical face laid onto frame t by the
  /// similarity that maps its nose and eye corners (`PoseAlignment.stablePoints`) onto t's. (t's
  /// pose from all 68 points would not do: it depends on t's mouth, so the nose would land off
  /// t's, which a clip's real landmarks never are; an alignment trained on that learns to
  /// correct an offset that inference does not have.)
  public func face(_ t: Int, withExpressionOf e: Int) -> [SIMD2<Double>] {
    let stable = PoseAlignment.stablePoints
    let fit = LandmarkGeometry.similarity(from: stable.map { canonical[e][$0] }, to: stable.map { landmarks[t][$0] })
    return canonical[e].map(fit.apply)
  }

  /// The speaker's reference face: the clip's mean canonical landmarks.
  public var referenceFace: [SIMD2<Double>] {
    (0..<68).map { k in canonical.reduce(SIMD2<Double>.zero) { $0 + $1[k] } / Double(frameCount) }
  }

  /// Frames without a face take the linear interpolation of the nearest frames with one (the
  /// nearest one at the ends). Nil when no frame has a face.
  public static func fillMissing(_ frames: [[SIMD2<Double>]], faceFound: [Bool]) -> [[SIMD2<Double>]]? {
    let found = faceFound.indices.filter { faceFound[$0] }
    guard let first = found.first, let last = found.last else { return nil }
    var out = frames
    var previous = first
    for t in frames.indices where !faceFound[t] {
      if t < first { out[t] = frames[first]; continue }
      if t > last { out[t] = frames[last]; continue }
      while let next = found.first(where: { $0 > previous }), next < t { previous = next }
      let next = found.first { $0 > t }!
      let w = Double(t - previous) / Double(next - previous)
      out[t] = zip(frames[previous], frames[next]).map { $0 * (1 - w) + $1 * w }
    }
    return out
  }
}

public enum AudioToLandmarksError: Error, CustomStringConvertible, Equatable {
  case mismatch(String)
  case noFace(String)
  case dataset(String)
  case silentAudio(String)
  case emptyAudio(String)
  case lengthMismatch(String)
  case unknownEmotion(String, [String])

  public var description: String {
    switch self {
    case .mismatch(let s), .noFace(let s), .dataset(let s), .lengthMismatch(let s): s
    case .silentAudio(let path): "\(path): the audio is silent (peak below −80 dBFS); a silent dub gives a closed mouth — pass --allow-silence if that is what you want"
    case .emptyAudio(let path): "\(path): the audio holds no samples"
    case .unknownEmotion(let name, let known): "unknown emotion '\(name)': the model knows \(known.joined(separator: ", ")) (or auto)"
    }
  }
}

/// Speech from a file as the model hears it: mono 16 kHz, one MFCC window per video frame.
public enum SpeechInput {
  /// Peak below −80 dBFS counts as silence.
  public static let silenceThreshold: Float = 1e-4

  public static func samples(path: String) throws -> [Float] {
    let audio = try AudioReader.load(path: path, sampleRate: 16_000, channels: 1)
    guard !audio.samples.isEmpty else { throw AudioToLandmarksError.emptyAudio(path) }
    return audio.samples
  }

  public static func isSilent(_ samples: [Float]) -> Bool { samples.allSatisfy { abs($0) < silenceThreshold } }

  /// [frames, 28, 12] windows for `frames` video frames at `fps` (padded with silence when the
  /// audio is shorter, trimmed when it is longer).
  public static func windows(_ samples: [Float], frames: Int, fps: Double) -> Tensor {
    SpeechWindows(framesPerSecond: fps)(samples, frameCount: frames)
  }

  /// Video frames the audio lasts at `fps`.
  public static func frameCount(_ samples: [Float], fps: Double) -> Int { Int((Double(samples.count) / 16_000 * fps).rounded()) }
}

/// A training folder: one subfolder per clip with `clip.json` —
/// `{"audio": "audio.wav", "landmarks": "landmarks.safetensors", "emotion": "happy",
///   "speaker": "M003", "sentence": "001", "angle": "front", "split": "train"}` — where `audio`
/// and `landmarks` are relative to the subfolder (or absolute), `landmarks` is a file from
/// `redub tools landmarks`, and `split` (optional) is `train` or `validation`.
public struct AudioToLandmarksDataset: Sendable {
  public var clips: [AudioToLandmarksClip]

  public init(clips: [AudioToLandmarksClip]) { self.clips = clips }

  public var training: [AudioToLandmarksClip] { clips.filter { !$0.isValidation } }

  /// Whether some training utterance was filmed from two camera angles (same speaker, sentence
  /// and emotion): the alignment then learns from one angle's face to the other's.
  public var hasCameraAnglePairs: Bool {
    Dictionary(grouping: training, by: { "\($0.speaker)\u{1}\($0.sentence)\u{1}\($0.emotion)" }).values
      .contains { Set($0.map(\.angle)).count > 1 }
  }

  /// The alignment residual that suits this data (`PoseAlignment.Residual`): with pairs of camera
  /// angles the query has the other angle's shape, so the network starts from the pose-giving
  /// face; with one angle the query has the target's own shape (as at inference), so it starts
  /// from the placed query.
  public var suitedAlignmentResidual: PoseAlignment.Residual { hasCameraAnglePairs ? .poseGiving : .placedQuery }
  public var validation: [AudioToLandmarksClip] { clips.filter(\.isValidation) }

  /// Emotion names, `neutral` first when present, the rest sorted.
  public var emotions: [String] {
    let names = Set(clips.map(\.emotion))
    return (names.contains("neutral") ? ["neutral"] : []) + names.subtracting(["neutral"]).sorted()
  }

  struct ClipDescription: Decodable {
    var audio: String
    var landmarks: String
    var emotion: String
    var speaker: String?
    var sentence: String?
    var angle: String?
    var split: String?
  }

  /// Reads every clip folder under `directory`. Without any `split`, every tenth clip (in name
  /// order) is held out for validation.
  public init(directory: URL, progress: (Int, Int) -> Void = { _, _ in }) throws {
    let fm = FileManager.default
    guard let names = try? fm.contentsOfDirectory(atPath: directory.path) else {
      throw AudioToLandmarksError.dataset("\(directory.path) is not a readable folder")
    }
    let folders = names.sorted().filter { fm.fileExists(atPath: directory.appendingPathComponent($0).appendingPathComponent("clip.json").path) }
    guard !folders.isEmpty else {
      throw AudioToLandmarksError.dataset("\(directory.path) holds no clip folders (each needs a clip.json; see the README's dataset layout)")
    }
    var clips: [AudioToLandmarksClip] = []
    let anySplit = try folders.contains { name in
      let data = try Data(contentsOf: directory.appendingPathComponent(name).appendingPathComponent("clip.json"))
      return (try? JSONDecoder().decode(ClipDescription.self, from: data))?.split != nil
    }
    for (i, name) in folders.enumerated() {
      progress(i, folders.count)
      let folder = directory.appendingPathComponent(name)
      let description: ClipDescription
      do {
        description = try JSONDecoder().decode(ClipDescription.self, from: Data(contentsOf: folder.appendingPathComponent("clip.json")))
      } catch {
        throw AudioToLandmarksError.dataset("\(folder.path)/clip.json: \(error)")
      }
      func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : folder.appendingPathComponent(path).path }
      let track = try LandmarkTrack(contentsOf: URL(fileURLWithPath: resolve(description.landmarks)))
      let samples = try SpeechInput.samples(path: resolve(description.audio))
      let windows = SpeechInput.windows(samples, frames: track.frames.count, fps: track.frameRate)
      let validation = anySplit ? description.split == "validation" : i % 10 == 9
      clips.append(try AudioToLandmarksClip(
        name: name, windows: windows, landmarks: track.frames.map(\.points), faceFound: track.frames.map(\.faceFound),
        emotion: description.emotion, speaker: description.speaker ?? "speaker", sentence: description.sentence ?? name,
        angle: description.angle ?? "front", isValidation: validation))
    }
    progress(folders.count, folders.count)
    self.clips = clips
  }
}

extension Array where Element == [SIMD2<Double>] {
  /// [frames, 68, 2] float32.
  func landmarkTensor() -> Tensor {
    Tensor(flatMap { $0.flatMap { [Float($0.x), Float($0.y)] } }, shape: [count, 68, 2])
  }
}
