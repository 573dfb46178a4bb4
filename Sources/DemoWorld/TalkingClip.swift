import Foundation
import Media
import Tensors

/// Smooth, seeded head motion: each pose parameter sways as a sum of three slow sinusoids
/// (0.08–0.6 Hz) around the base pose.
public struct HeadMotion: Sendable {
  /// 0 a still head, 1 the default sway (±0.02 of the frame, ±3 % scale, about ±3.5° roll,
  /// ±7° yaw, ±3.5° pitch).
  public var amount: Float = 1

  public init(amount: Float = 1) { self.amount = amount }

  public func poses(frames: Int, fps: Double, base: HeadPose, seed: UInt64) -> [HeadPose] {
    var g = SeededGenerator(seed: seed ^ 0x6865_6164)
    func sway(_ amplitude: Float) -> (Double) -> Float {
      let parts = (0..<3).map { _ in
        (Double.random(in: 0.08...0.6, using: &g), Double.random(in: 0...(2 * .pi), using: &g), Float.random(in: 0.5...1, using: &g))
      }
      let norm = parts.reduce(0) { $0 + $1.2 }
      return { t in amplitude * parts.reduce(0) { $0 + $1.2 * Float(sin(2 * .pi * $1.0 * t + $1.1)) } / norm }
    }
    let (x, y, s, roll, yaw, pitch) = (sway(0.02 * amount), sway(0.015 * amount), sway(0.03 * amount),
                                        sway(0.06 * amount), sway(0.12 * amount), sway(0.06 * amount))
    return (0..<frames).map { f in
      let t = Double(f) / fps
      var p = base
      p.center += SIMD2(x(t), y(t))
      p.scale *= 1 + s(t)
      p.roll += roll(t)
      p.yaw += yaw(t)
      p.pitch += pitch(t)
      return p
    }
  }
}

/// Seeded blinks: intervals of 1.5–4.5 s, each closing in 80 ms, shut for 40 ms and opening in
/// 130 ms.
public struct Blinks: Sendable {
  public init() {}

  /// Eye openness (0 closed … 1 open) per frame, averaged over each frame's interval.
  public func openness(frames: Int, fps: Double, seed: UInt64) -> [Float] {
    var g = SeededGenerator(seed: seed ^ 0x626c_696e_6b)
    let duration = Double(frames) / fps
    var starts: [Double] = []
    var t = Double.random(in: 0.3...2, using: &g)
    while t < duration {
      starts.append(t)
      t += Double.random(in: 1.5...4.5, using: &g)
    }
    func open(_ t: Double) -> Float {
      var value: Float = 1
      for s in starts where t >= s && t < s + 0.25 {
        let u = t - s
        let v: Double = u < 0.08 ? 1 - u / 0.08 : u < 0.12 ? 0 : min(1, (u - 0.12) / 0.13)
        value = min(value, Float(v))
      }
      return value
    }
    return (0..<frames).map { f in
      (0..<4).reduce(Float(0)) { $0 + open((Double(f) - 0.5 + (Double($1) + 0.5) / 4) / fps) } / 4
    }
  }
}

/// What a clip is made of: two sentences, a speaker, a frame and the motion's seed.
public struct ClipConfiguration: Sendable, Codable, Equatable {
  /// What the speaker says in the clip to edit.
  public var sentenceA: String
  /// The dub's sentence: the ground truth's mouth follows it.
  public var sentenceB: String
  public var width: Int
  public var height: Int
  public var fps: Double
  /// Seeds the speaker (when `identity` is nil), the head motion and the blinks.
  public var seed: UInt64
  public var emotion: Emotion
  /// The dub's emotion (its voice and the ground truth's brows and mouth corners); nil: `emotion`.
  public var dubEmotion: Emotion?
  /// Speaking rate before the emotion's factor, words per minute.
  public var wordsPerMinute: Int
  /// espeak-ng voice.
  public var voice: String
  /// The head's size (`HeadPose.scale`) and how much it moves.
  public var headScale: Float
  public var motion: Float
  /// The speaker; nil draws one from `seed`.
  public var identity: FaceIdentity?

  public static let defaultSentenceA = "We will meet at noon by the old harbour, if the weather is kind."
  public static let defaultSentenceB = "Maybe Bob can buy a blue map in Paris for me."

  public init(sentenceA: String = defaultSentenceA, sentenceB: String = defaultSentenceB, width: Int = 256, height: Int = 256,
              fps: Double = 25, seed: UInt64 = 1, emotion: Emotion = .neutral, dubEmotion: Emotion? = nil,
              wordsPerMinute: Int = 160, voice: String = "en-us", headScale: Float = 0.24, motion: Float = 1,
              identity: FaceIdentity? = nil) {
    self.sentenceA = sentenceA; self.sentenceB = sentenceB; self.width = width; self.height = height; self.fps = fps
    self.seed = seed; self.emotion = emotion; self.dubEmotion = dubEmotion; self.wordsPerMinute = wordsPerMinute
    self.voice = voice; self.headScale = headScale; self.motion = motion; self.identity = identity
  }
}

public enum ClipError: Error, CustomStringConvertible {
  case invalid(String)
  public var description: String {
    switch self { case .invalid(let why): "cannot make the clip: \(why)" }
  }
}

/// A speaker saying sentence A (the clip to edit), sentence B's audio (the dub), and the ground
/// truth: the same speaker with the same head motion and blinks, the mouth following B.
///
/// Length: the clip is as long as the dub, ⌈duration(B) · fps⌉ frames, and head motion and
/// blinks are generated for that many frames — an edit must cover the whole dub, and the
/// original and the truth then share every frame's pose. A's speech is cut where B ends when
/// longer, or followed by silence (mouth at rest) when shorter.
public struct TalkingClip: Sendable {
  public var configuration: ClipConfiguration
  public var identity: FaceIdentity
  public var frameCount: Int
  public var poses: [HeadPose]
  public var eyes: [Float]
  public var speechA: Utterance
  public var speechB: Utterance
  /// The mouths of the original (following A) and of the ground truth (following B).
  public var mouthA: [MouthShape]
  public var mouthB: [MouthShape]

  public enum Track: String, Sendable { case original, truth }

  public static func make(_ c: ClipConfiguration) throws -> TalkingClip {
    guard c.width >= 32, c.height >= 32, c.width <= 4096, c.height <= 4096 else {
      throw ClipError.invalid("the frame must be 32…4096 pixels on each side, got \(c.width)×\(c.height)")
    }
    guard c.fps > 0, c.fps <= 120 else { throw ClipError.invalid("fps must be in (0, 120], got \(c.fps)") }
    guard (0.05...1).contains(c.headScale) else { throw ClipError.invalid("head scale must be in 0.05…1, got \(c.headScale)") }
    let a = try SpeechSynthesizer.speak(c.sentenceA, voice: c.emotion.voice(c.voice, wordsPerMinute: c.wordsPerMinute))
    let b = try SpeechSynthesizer.speak(c.sentenceB, voice: (c.dubEmotion ?? c.emotion).voice(c.voice, wordsPerMinute: c.wordsPerMinute))
    let frames = Int((b.duration * c.fps).rounded(.up))
    var sampler = FaceSampler(seed: c.seed)
    let identity = c.identity ?? sampler.identity()
    let base = HeadPose(center: [0.5, 0.5], scale: c.headScale)
    let visemes = VisemeTrack()
    return TalkingClip(
      configuration: c, identity: identity, frameCount: frames,
      poses: HeadMotion(amount: c.motion).poses(frames: frames, fps: c.fps, base: base, seed: c.seed),
      eyes: Blinks().openness(frames: frames, fps: c.fps, seed: c.seed),
      speechA: a, speechB: b,
      mouthA: visemes.frames(a.phonemes, frames: frames, fps: c.fps),
      mouthB: visemes.frames(b.phonemes, frames: frames, fps: c.fps))
  }

  /// The clip's first `frames` frames (all when longer): the dub is cut to the same length, so
  /// a short demo or test keeps the clip, its dub and the truth in step.
  public func prefix(_ frames: Int) -> TalkingClip {
    guard frames < frameCount else { return self }
    var c = self
    c.frameCount = max(1, frames)
    c.poses = Array(poses.prefix(c.frameCount))
    c.eyes = Array(eyes.prefix(c.frameCount))
    c.mouthA = Array(mouthA.prefix(c.frameCount))
    c.mouthB = Array(mouthB.prefix(c.frameCount))
    let samples = Int((Double(c.frameCount) / configuration.fps * Double(speechB.sampleRate)).rounded())
    c.speechB.samples = Array(speechB.samples.prefix(samples))
    c.speechB.phonemes = speechB.phonemes.filter { $0.start < Double(samples) / Double(speechB.sampleRate) }
    return c
  }

  /// The face of frame `index` in the original or the ground truth.
  public func face(_ index: Int, _ track: Track) -> FaceParameters {
    let emotion = track == .truth ? (configuration.dubEmotion ?? configuration.emotion) : configuration.emotion
    var expression = FaceExpression(eyeOpenLeft: eyes[index], eyeOpenRight: eyes[index],
                                    mouth: track == .truth ? mouthB[index] : mouthA[index])
    expression = emotion.apply(to: expression)
    return FaceParameters(identity: identity, pose: poses[index], expression: expression)
  }

  /// A's audio fitted to the clip's length (cut, or padded with silence).
  public var audioA: AudioBuffer {
    let n = Int((Double(frameCount) / configuration.fps * Double(speechA.sampleRate)).rounded())
    var s = Array(speechA.samples.prefix(n))
    s += [Float](repeating: 0, count: n - s.count)
    return AudioBuffer(samples: s, sampleRate: speechA.sampleRate)
  }

  /// The files `write(to:)` makes.
  public struct Files: Sendable {
    public var clip: URL, dub: URL, truth: URL, clipLandmarks: URL, truthLandmarks: URL, description: URL

    /// The files' places in `folder`.
    public init(folder: URL) {
      clip = folder.appendingPathComponent("clip.mp4")
      dub = folder.appendingPathComponent("dub.wav")
      truth = folder.appendingPathComponent("truth.mp4")
      clipLandmarks = folder.appendingPathComponent("clip_landmarks.safetensors")
      truthLandmarks = folder.appendingPathComponent("truth_landmarks.safetensors")
      description = folder.appendingPathComponent("clip.json")
    }
  }

  /// Writes `clip.mp4` (A with its audio), `dub.wav` (B), `truth.mp4` (the ground truth with
  /// B's audio), `clip_landmarks.safetensors` and `truth_landmarks.safetensors` (the landmarks
  /// every frame was drawn from, in the file form of `redub tools landmarks`) and `clip.json`
  /// (the configuration, the speaker and both sentences' phonemes).
  @discardableResult
  public func write(to folder: URL, progress: ((Int, Int) -> Void)? = nil) throws -> Files {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let files = Files(folder: folder)
    let c = configuration
    let rate = Rational(approximating: c.fps, maxDenominator: 1001)
    var renderer = ProceduralFaceRenderer(width: c.width, height: c.height)
    let dub = AudioBuffer(samples: speechB.samples, sampleRate: speechB.sampleRate)
    for (track, video, landmarksURL, audio) in [(Track.original, files.clip, files.clipLandmarks, audioA),
                                                (Track.truth, files.truth, files.truthLandmarks, dub)] {
      let writer = try VideoWriter(path: video.path, width: c.width, height: c.height, frameRate: rate, audio: .samples(audio))
      var landmarks: [[SIMD2<Float>]] = []
      for f in 0..<frameCount {
        let face = renderer.render(face(f, track))
        try writer.append(face.image)
        landmarks.append(face.landmarks)
        progress?(f + 1 + (track == .truth ? frameCount : 0), 2 * frameCount)
      }
      try writer.finish()
      try Self.writeLandmarks(landmarks, to: landmarksURL, width: c.width, height: c.height, fps: c.fps)
    }
    try AudioWriter.write(dub, to: files.dub.path)
    try describe().write(to: files.description)
    return files
  }

  /// Landmarks in the file form `redub tools landmarks` writes: `landmarks` [frames, 68, 2],
  /// `face_found`, `landmark_scores` (1: exact), `source` (1: detected), size and rate in the metadata.
  public static func writeLandmarks(_ frames: [[SIMD2<Float>]], to url: URL, width: Int, height: Int, fps: Double) throws {
    let n = frames.count
    try SafeTensors.write([
      "landmarks": Tensor(frames.flatMap { $0.flatMap { [$0.x, $0.y] } }, shape: [n, 68, 2]),
      "face_found": Tensor(repeating: 1, shape: [n]),
      "landmark_scores": Tensor(repeating: 1, shape: [n, 68]),
      "source": Tensor(repeating: 1, shape: [n]),
    ], metadata: ["width": String(width), "height": String(height), "frame_rate": String(fps), "format": "redub.landmarks.v1"], to: url)
  }

  func describe() throws -> Data {
    struct Description: Encodable {
      var configuration: ClipConfiguration
      var identity: FaceIdentity
      var frames: Int
      var length: String
      var sentenceA: Speech, sentenceB: Speech
      struct Speech: Encodable { var text: String; var seconds: Double; var sampleRate: Int; var phonemes: [Phoneme] }
    }
    let d = Description(
      configuration: configuration, identity: identity, frames: frameCount,
      length: "frames = ceil(duration(B) * fps); A's audio cut or padded with silence to that length",
      sentenceA: .init(text: speechA.text, seconds: speechA.duration, sampleRate: speechA.sampleRate, phonemes: speechA.phonemes),
      sentenceB: .init(text: speechB.text, seconds: speechB.duration, sampleRate: speechB.sampleRate, phonemes: speechB.phonemes))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return try encoder.encode(d)
  }
}
