import Foundation
import Tensors

/// Speech-like audio whose mouth motion is known: syllables of five vowels synthesized from a
/// glottal pulse train through two formant resonators, with the face's 68 landmarks driven by
/// a fixed rule (mouth opening from the vowel and the loudness, mouth width from the vowel's
/// rounding, brows and mouth corners from the emotion) and put in a head pose per clip and frame.
public struct SyntheticSpeechCorpus {
  public static let sampleRate = 16_000
  public static let fps = 25.0
  public static let emotions = ["neutral", "happy", "sad", "angry"]

  struct Vowel: Sendable { let f1: Double, f2: Double, opening: Double, width: Double }
  static let vowels = [
    Vowel(f1: 730, f2: 1090, opening: 1.0, width: 0.6),  // a
    Vowel(f1: 530, f2: 1840, opening: 0.6, width: 0.8),  // e
    Vowel(f1: 270, f2: 2290, opening: 0.25, width: 1.0),  // i
    Vowel(f1: 570, f2: 840, opening: 0.7, width: 0.2),  // o
    Vowel(f1: 300, f2: 870, opening: 0.35, width: 0.0),  // u
  ]

  /// Pitch, spectral tilt (first-order pre-emphasis, + bright / − dull), loudness and breath
  /// noise of each emotion, and its face: mouth-corner lift and brow lift.
  public struct Voice: Sendable { let pitch: Double, tilt: Double, loudness: Double, noise: Double, smile: Double, brows: Double }
  public static let voices: [String: Voice] = [
    "neutral": Voice(pitch: 120, tilt: 0, loudness: 0.5, noise: 0.01, smile: 0, brows: 0),
    "happy": Voice(pitch: 190, tilt: 0.9, loudness: 0.6, noise: 0.01, smile: 1, brows: 0.04),
    "sad": Voice(pitch: 95, tilt: -0.8, loudness: 0.3, noise: 0.005, smile: -0.8, brows: 0.06),
    "angry": Voice(pitch: 150, tilt: 0.6, loudness: 0.8, noise: 0.08, smile: -0.3, brows: -0.07),
  ]

  /// A sentence: (vowel, seconds) syllables with short closures between them.
  public struct Sentence: Sendable { let syllables: [(vowel: Int, seconds: Double)] }

  public static func sentence(_ seed: UInt64) -> Sentence {
    var g = SeededGenerator(seed: seed)
    let count = Int.random(in: 8...12, using: &g)
    return Sentence(syllables: (0..<count).map { _ in (Int.random(in: 0..<5, using: &g), Double.random(in: 0.12...0.26, using: &g)) })
  }

  public struct Clip {
    public var samples: [Float]
    public var landmarks: [[SIMD2<Double>]]
    public var emotion: String
    public var speaker: String
    public var sentence: String
    public var angle: String
  }

  /// Mouth opening, width and loudness at time `t` (seconds) of a sentence spoken with `voice`.
  static func articulation(_ s: Sentence, at t: Double) -> (vowel: Int?, envelope: Double) {
    var start = 0.15  // lead-in silence
    for syllable in s.syllables {
      let closure = 0.06
      if t >= start && t < start + syllable.seconds {
        let x = (t - start) / syllable.seconds
        return (syllable.vowel, sin(Double.pi * x).squareRoot())
      }
      start += syllable.seconds + closure
    }
    return (nil, 0)
  }

  static func duration(_ s: Sentence) -> Double { 0.3 + s.syllables.reduce(0) { $0 + $1.seconds + 0.06 } }

  public static func audio(_ s: Sentence, voice: Voice, seed: UInt64) -> [Float] {
    var g = SeededGenerator(seed: seed)
    let n = Int(duration(s) * Double(sampleRate))
    var out = [Float](repeating: 0, count: n)
    var phase = 0.0
    // Two-pole resonators' state per formant.
    var y1 = (0.0, 0.0), y2 = (0.0, 0.0), previous = 0.0
    for i in 0..<n {
      let t = Double(i) / Double(sampleRate)
      let (vowel, envelope) = articulation(s, at: t)
      let f0 = voice.pitch * (1 + 0.08 * sin(2 * Double.pi * 3 * t))
      phase += f0 / Double(sampleRate)
      var source = 0.0
      if phase >= 1 { phase -= 1; source = 1 }
      source += voice.noise * Double.random(in: -1...1, using: &g)
      var sample = 0.0
      if let v = vowel {
        for (k, f) in [vowels[v].f1, vowels[v].f2].enumerated() {
          let bandwidth = 80.0 + 40 * Double(k)
          let r = exp(-Double.pi * bandwidth / Double(sampleRate))
          let a1 = 2 * r * cos(2 * Double.pi * f / Double(sampleRate)), a2 = -r * r
          if k == 0 {
            let y = source + a1 * y1.0 + a2 * y1.1
            y1 = (y, y1.0)
            sample += y
          } else {
            let y = source + a1 * y2.0 + a2 * y2.1
            y2 = (y, y2.0)
            sample += 0.6 * y
          }
        }
        sample *= envelope
      } else {
        sample = 0.02 * voice.noise * Double.random(in: -1...1, using: &g)
      }
      // Spectral tilt: x + tilt·(x − x_prev) brightens (tilt > 0) or dulls (tilt < 0).
      let tilted = sample + voice.tilt * (sample - previous)
      previous = sample
      out[i] = Float(tilted * voice.loudness * 0.05)
    }
    let peak = out.map(abs).max() ?? 1
    return out.map { $0 / max(peak, 1e-6) * 0.5 * Float(voice.loudness) }
  }

  /// The face template: 68 points in iBUG order, unit-ish canonical coordinates, y down.
  static func face(opening: Double, width: Double, smile: Double, brows: Double, speaker: Int) -> [SIMD2<Double>] {
    let faceWidth = 0.85 + 0.06 * Double(speaker), eyeSpacing = 0.4 + 0.03 * Double(speaker)
    var p: [SIMD2<Double>] = []
    for i in 0...16 {  // jaw, dropping with the mouth
      let phi = Double.pi * Double(i) / 16
      let drop = 0.12 * opening * pow(sin(phi), 4)
      p.append(SIMD2(-faceWidth * cos(phi), -0.1 + 1.1 * sin(phi) + drop))
    }
    for side in [-1.0, 1.0] {  // brows 17–21 (left) and 22–26 (right), each from outside in
      for j in 0..<5 {
        let u = Double(j) / 4
        let x = side < 0 ? -0.7 + 0.55 * u : 0.15 + 0.55 * u
        p.append(SIMD2(x, -0.55 - 0.08 * sin(Double.pi * u) - brows))
      }
    }
    for j in 0..<4 { p.append(SIMD2(0, -0.4 + 0.13 * Double(j))) }  // nose bridge 27–30
    for j in 0..<5 { p.append(SIMD2(-0.2 + 0.1 * Double(j), 0.1 + 0.03 * (j == 2 ? 1 : 0))) }  // nostrils 31–35
    for side in [-1.0, 1.0] {  // eyes 36–41, 42–47
      let c = SIMD2(side * eyeSpacing, -0.35)
      for j in 0..<6 {
        let a = Double.pi - Double.pi * Double(j) / 3
        p.append(c + SIMD2(0.13 * cos(a), -0.05 * sin(a)))
      }
    }
    // Mouth: outer 48–59 and inner 60–67 around (0, 0.45).
    let half = 0.28 + 0.1 * width, gap = 0.22 * opening, center = SIMD2(0.0, 0.45)
    let corner = -0.05 * smile
    p.append(center + SIMD2(-half, corner))  // 48
    for j in 1...5 {  // upper outer 49–53
      let u = Double(j) / 6
      p.append(center + SIMD2(-half + 2 * half * u, -0.06 - 0.02 * sin(Double.pi * u) - gap / 4))
    }
    p.append(center + SIMD2(half, corner))  // 54
    for j in 1...5 {  // lower outer 55–59, right to left
      let u = Double(j) / 6
      p.append(center + SIMD2(half - 2 * half * u, 0.07 + gap + 0.02 * sin(Double.pi * u)))
    }
    let inner = half * 0.8
    p.append(center + SIMD2(-inner, corner * 0.8))  // 60
    for j in 1...3 { p.append(center + SIMD2(-inner + 2 * inner * Double(j) / 4, -gap / 4)) }  // 61–63
    p.append(center + SIMD2(inner, corner * 0.8))  // 64
    for j in 1...3 { p.append(center + SIMD2(inner - 2 * inner * Double(j) / 4, gap)) }  // 65–67
    return p
  }

  /// Landmarks in pixels for each video frame: the face's articulation smoothed across frames
  /// (coarticulation), then the head pose of the camera angle and the frame.
  public static func landmarks(_ s: Sentence, voice: Voice, speaker: Int, angle: Int, seed: UInt64) -> [[SIMD2<Double>]] {
    var g = SeededGenerator(seed: seed)
    let frames = Int((duration(s) * fps).rounded())
    let (motionPhase, motionRate) = (Double.random(in: 0...6, using: &g), Double.random(in: 0.3...0.8, using: &g))
    var opening = 0.0, width = 0.5
    return (0..<frames).map { f in
      let t = Double(f) / fps
      let (vowel, envelope) = articulation(s, at: t)
      let targetOpening = vowel.map { vowels[$0].opening * envelope } ?? 0
      let targetWidth = vowel.map { vowels[$0].width } ?? 0.5
      opening += 0.7 * (targetOpening - opening)
      width += 0.7 * (targetWidth - width)
      var points = face(opening: opening, width: width, smile: voice.smile, brows: voice.brows, speaker: speaker)
      if angle == 1 { points = points.map { SIMD2($0.x * 0.8, $0.y) } }  // a camera to the side: the face foreshortened
      let roll = 0.05 * sin(motionRate * t * 2 * Double.pi + motionPhase) + (angle == 1 ? 0.1 : 0)
      let scale = 60 * (1 + 0.03 * sin(t * 1.7 + motionPhase))
      let shift = SIMD2(160 + 6 * sin(t * 1.1 + motionPhase) + (angle == 1 ? 40 : 0), 120 + 4 * cos(t * 0.9))
      let (c, s) = (cos(roll), sin(roll))
      return points.map { scale * SIMD2(c * $0.x - s * $0.y, s * $0.x + c * $0.y) + shift }
    }
  }

  /// Clips for every speaker × sentence × emotion × angle.
  public static func make(speakers: Int = 2, sentences: Int = 6, angles: Int = 2) -> [Clip] {
    var clips: [Clip] = []
    for sentenceIndex in 0..<sentences {
      let s = sentence(UInt64(1000 + sentenceIndex))
      for speaker in 0..<speakers {
        for emotion in emotions {
          let voice = voices[emotion]!
          var v = voice
          v = Voice(pitch: voice.pitch * (1 + 0.1 * Double(speaker)), tilt: voice.tilt, loudness: voice.loudness,
                    noise: voice.noise, smile: voice.smile, brows: voice.brows)
          let samples = audio(s, voice: v, seed: UInt64(sentenceIndex * 100 + speaker * 10 + emotions.firstIndex(of: emotion)!))
          for angle in 0..<angles {
            clips.append(Clip(samples: samples, landmarks: landmarks(s, voice: v, speaker: speaker, angle: angle,
                                                                     seed: UInt64(sentenceIndex * 7 + speaker * 3 + angle)),
                              emotion: emotion, speaker: "s\(speaker)", sentence: "\(sentenceIndex)", angle: angle == 0 ? "front" : "side"))
          }
        }
      }
    }
    return clips
  }

  /// A 16-bit mono WAV file.
  public static func wav(_ samples: [Float], rate: Int = sampleRate) -> Data {
    var data = Data()
    func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
    data.append(contentsOf: Array("RIFF".utf8)); append(UInt32(36 + 2 * samples.count))
    data.append(contentsOf: Array("WAVEfmt ".utf8)); append(UInt32(16)); append(UInt16(1)); append(UInt16(1))
    append(UInt32(rate)); append(UInt32(2 * rate)); append(UInt16(2)); append(UInt16(16))
    data.append(contentsOf: Array("data".utf8)); append(UInt32(2 * samples.count))
    for s in samples { append(Int16(max(-1, min(1, s)) * 32767)) }
    return data
  }

  /// Writes the clips as a training folder (the layout `redub train audio2landmarks` reads):
  /// one subfolder per clip with `audio.wav`, `landmarks.safetensors` and `clip.json`;
  /// sentence `heldOutSentence` is the validation split.
  public static func write(_ clips: [Clip], to folder: URL, heldOutSentence: String) throws {
    for (i, clip) in clips.enumerated() {
      let dir = folder.appendingPathComponent(String(format: "clip%03d", i))
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      try wav(clip.samples).write(to: dir.appendingPathComponent("audio.wav"))
      try writeLandmarks(clip.landmarks, to: dir.appendingPathComponent("landmarks.safetensors"))
      let description: [String: String] = [
        "audio": "audio.wav", "landmarks": "landmarks.safetensors", "emotion": clip.emotion, "speaker": clip.speaker,
        "sentence": clip.sentence, "angle": clip.angle, "split": clip.sentence == heldOutSentence ? "validation" : "train",
      ]
      try JSONSerialization.data(withJSONObject: description, options: [.sortedKeys]).write(to: dir.appendingPathComponent("clip.json"))
    }
  }

  /// Landmarks in the file form of `redub tools landmarks` (every frame with a face unless
  /// `missing` says otherwise).
  public static func writeLandmarks(_ frames: [[SIMD2<Double>]], missing: Set<Int> = [], to url: URL,
                                    width: Int = 320, height: Int = 240) throws {
    let n = frames.count
    var points: [Float] = []
    for (t, frame) in frames.enumerated() {
      for p in frame { points += missing.contains(t) ? [0, 0] : [Float(p.x), Float(p.y)] }
    }
    try SafeTensors.write([
      "landmarks": Tensor(points, shape: [n, 68, 2]),
      "face_found": Tensor((0..<n).map { missing.contains($0) ? 0 : 1 }, shape: [n]),
      "landmark_scores": Tensor(repeating: 0.9, shape: [n, 68]),
      "source": Tensor((0..<n).map { missing.contains($0) ? 0 : 2 }, shape: [n]),
    ], metadata: ["width": String(width), "height": String(height), "frame_rate": String(fps), "format": "redub.landmarks.v1"], to: url)
  }
}
