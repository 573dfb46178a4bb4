import Foundation

/// Mouth poses for groups of phonemes that look alike (after the Preston Blair / MPEG-4 viseme
/// sets, reduced to what the renderer's mouth can show), each with a target `MouthShape` and a
/// dominance per mouth parameter (how strongly it holds its target against its neighbours).
///
/// | viseme        | phonemes (espeak-ng names)               | open | width | round | dominance (open, width, round) |
/// |---------------|------------------------------------------|------|-------|-------|--------------------------------|
/// | rest          | pauses `_` `_:` `_!`, silence            | 0    | 0     | 0     | 0.8, 0.5, 0.5 |
/// | bilabial      | p b m                                    | 0    | 0     | 0     | 8, 0.6, 0.4 |
/// | labiodental   | f v                                      | 0.08 | 0.1   | 0     | 4, 0.6, 0.4 |
/// | dental        | T D (th)                                 | 0.2  | 0.15  | 0     | 1.2, 0.5, 0.3 |
/// | alveolar      | t d n l s z, t# n- ?                     | 0.18 | 0.2   | 0     | 0.5, 0.3, 0.2 |
/// | postalveolar  | S Z tS dZ (sh, zh, ch, j)                | 0.2  | −0.35 | 0.6   | 1.2, 1.5, 1.5 |
/// | velar         | k g N h x                                | 0.3  | 0.05  | 0     | 0.35, 0.2, 0.1 |
/// | r             | r r-                                     | 0.2  | −0.3  | 0.5   | 1, 1.2, 1.2 |
/// | w             | w                                        | 0.12 | −0.7  | 1     | 1.5, 2.5, 2.5 |
/// | y             | j                                        | 0.2  | 0.4   | 0     | 0.8, 1, 0.6 |
/// | openVowel     | a aa a# A: A@ V                          | 0.95 | 0.15  | 0     | 2, 1, 1 |
/// | midVowel      | E e e@ @ @2 @5 3 I# (schwa family)       | 0.5  | 0.3   | 0     | 1.5, 0.8, 0.8 |
/// | closeFront    | i i: I i@ eI's end                       | 0.25 | 0.75  | 0     | 1.5, 1.2, 1 |
/// | openBack      | 0 O: O@ O oU's start                     | 0.75 | −0.35 | 0.7   | 2, 1.2, 1.2 |
/// | closeBack     | u: U U@ u                                | 0.25 | −0.6  | 1     | 1.5, 1.5, 1.5 |
/// | rhotic        | 3: @r                                    | 0.4  | −0.2  | 0.45  | 1.5, 1, 1 |
/// | syllabicL     | @L                                       | 0.3  | 0.2   | 0     | 1.2, 0.8, 0.8 |
///
/// Diphthongs are two visemes, each over half the phoneme: aI = openVowel → closeFront,
/// aU = openVowel → closeBack, eI = midVowel → closeFront, oU = openBack → closeBack,
/// OI = openBack → closeFront, e@/i@/U@ end in midVowel; aI3/aU3 (triphthongs) as aI/aU.
/// Unknown names fall back by their first letter (a vowel letter → midVowel, otherwise alveolar).
/// Dominance decays outside a segment with a time constant of 25 ms for bilabials, 30 ms for
/// the other consonants, 50 ms for vowels and 60 ms for rest.
public enum Viseme: String, Sendable, CaseIterable, Codable {
  case rest, bilabial, labiodental, dental, alveolar, postalveolar, velar, r, w, y
  case openVowel, midVowel, closeFront, openBack, closeBack, rhotic, syllabicL

  public var target: MouthShape {
    switch self {
    case .rest: MouthShape(open: 0, width: 0, rounding: 0)
    case .bilabial: MouthShape(open: 0, width: 0, rounding: 0)
    case .labiodental: MouthShape(open: 0.08, width: 0.1, rounding: 0)
    case .dental: MouthShape(open: 0.2, width: 0.15, rounding: 0)
    case .alveolar: MouthShape(open: 0.18, width: 0.2, rounding: 0)
    case .postalveolar: MouthShape(open: 0.2, width: -0.35, rounding: 0.6)
    case .velar: MouthShape(open: 0.3, width: 0.05, rounding: 0)
    case .r: MouthShape(open: 0.2, width: -0.3, rounding: 0.5)
    case .w: MouthShape(open: 0.12, width: -0.7, rounding: 1)
    case .y: MouthShape(open: 0.2, width: 0.4, rounding: 0)
    case .openVowel: MouthShape(open: 0.95, width: 0.15, rounding: 0)
    case .midVowel: MouthShape(open: 0.5, width: 0.3, rounding: 0)
    case .closeFront: MouthShape(open: 0.25, width: 0.75, rounding: 0)
    case .openBack: MouthShape(open: 0.75, width: -0.35, rounding: 0.7)
    case .closeBack: MouthShape(open: 0.25, width: -0.6, rounding: 1)
    case .rhotic: MouthShape(open: 0.4, width: -0.2, rounding: 0.45)
    case .syllabicL: MouthShape(open: 0.3, width: 0.2, rounding: 0)
    }
  }

  /// Dominance of the target for (open, width, rounding).
  public var dominance: SIMD3<Float> {
    switch self {
    case .rest: [0.8, 0.5, 0.5]
    case .bilabial: [8, 0.6, 0.4]
    case .labiodental: [4, 0.6, 0.4]
    case .dental: [1.2, 0.5, 0.3]
    case .alveolar: [0.5, 0.3, 0.2]
    case .postalveolar: [1.2, 1.5, 1.5]
    case .velar: [0.35, 0.2, 0.1]
    case .r: [1, 1.2, 1.2]
    case .w: [1.5, 2.5, 2.5]
    case .y: [0.8, 1, 0.6]
    case .openVowel: [2, 1, 1]
    case .midVowel: [1.5, 0.8, 0.8]
    case .closeFront: [1.5, 1.2, 1]
    case .openBack: [2, 1.2, 1.2]
    case .closeBack: [1.5, 1.5, 1.5]
    case .rhotic: [1.5, 1, 1]
    case .syllabicL: [1.2, 0.8, 0.8]
    }
  }

  /// Time constant (seconds) of the dominance's decay outside the segment: short for the
  /// consonants (quick, local gestures), longer for vowels and rest.
  public var decay: Double {
    switch self {
    case .bilabial: 0.025
    case .labiodental, .dental, .alveolar, .postalveolar, .velar, .r, .w, .y: 0.03
    case .rest: 0.06
    case .openVowel, .midVowel, .closeFront, .openBack, .closeBack, .rhotic, .syllabicL: 0.05
    }
  }

  /// Whether the lips close completely for it (p, b, m).
  public var closesLips: Bool { self == .bilabial }

  /// The viseme(s) of an espeak-ng phoneme name; two for diphthongs (first half, second half).
  public static func of(_ phoneme: String) -> [Viseme] {
    if let v = table[phoneme] { return v }
    // Stress or length marks stripped: "a:" → "a".
    let trimmed = phoneme.filter { !":;'\",%=".contains($0) }
    if let v = table[trimmed] { return v }
    guard let first = trimmed.first else { return [.rest] }
    return "aeiouAEIOUV0@3".contains(first) ? [.midVowel] : [.alveolar]
  }

  static let table: [String: [Viseme]] = {
    var t: [String: [Viseme]] = [:]
    func set(_ names: [String], _ v: [Viseme]) { for n in names { t[n] = v } }
    set(["_", "_:", "_!", "_^_", "||", "|"], [.rest])
    set(["p", "b", "m"], [.bilabial])
    set(["f", "v"], [.labiodental])
    set(["T", "D"], [.dental])
    set(["t", "d", "n", "l", "s", "z", "t#", "d#", "n-", "?", "t2", "d2", "l/", "L"], [.alveolar])
    set(["S", "Z", "tS", "dZ"], [.postalveolar])
    set(["k", "g", "N", "h", "x", "k-"], [.velar])
    set(["r", "r-", "*", "R"], [.r])
    set(["w", "W"], [.w])
    set(["j"], [.y])
    set(["a", "aa", "a#", "A:", "A@", "V", "A", "&"], [.openVowel])
    set(["E", "e", "e#", "@", "@2", "@5", "3", "I#", "I2", "a2"], [.midVowel])
    set(["i", "i:", "I", "i@", "y"], [.closeFront])
    set(["0", "O:", "O@", "O", "o", "o@"], [.openBack])
    set(["u:", "U", "U@", "u"], [.closeBack])
    set(["3:", "@r", "3r"], [.rhotic])
    set(["@L"], [.syllabicL])
    set(["aI", "aI3", "aI@"], [.openVowel, .closeFront])
    set(["aU", "aU3", "aU@"], [.openVowel, .closeBack])
    set(["eI"], [.midVowel, .closeFront])
    set(["oU", "@U"], [.openBack, .closeBack])
    set(["OI"], [.openBack, .closeFront])
    set(["e@"], [.midVowel, .midVowel])
    set(["i@", "i@3"], [.closeFront, .midVowel])
    set(["U@"], [.closeBack, .midVowel])
    return t
  }()
}

/// Turns phoneme timings into mouth shapes per video frame with coarticulation: every viseme
/// segment pulls each mouth parameter towards its target with a dominance that is flat over
/// the segment's middle and decays exponentially beyond it (Cohen & Massaro's model); a
/// parameter's value is the dominance-weighted mean of the targets, with a weak pull towards
/// rest everywhere so that the mouth closes in long silences. Bilabials dominate the opening
/// so the lips shut on p, b, m even between open vowels.
public struct VisemeTrack: Sendable {
  /// Multiplies every viseme's decay time constant (`Viseme.decay`): larger is smoother.
  public var decayScale: Double = 1
  /// Part of each segment (around its centre) where the dominance is at its peak.
  public var plateau: Double = 0.5
  /// Dominance of the rest pose everywhere.
  public var restDominance: Float = 0.01
  /// Sub-samples per frame (the mouth is averaged over the frame's interval).
  public var subsamples = 4

  public init() {}

  struct Segment { var viseme: Viseme; var start: Double; var end: Double }

  static func segments(_ phonemes: [Phoneme]) -> [Segment] {
    var out: [Segment] = []
    for p in phonemes where p.end > p.start {
      let visemes = Viseme.of(p.name)
      let step = (p.end - p.start) / Double(visemes.count)
      for (k, v) in visemes.enumerated() {
        out.append(Segment(viseme: v, start: p.start + Double(k) * step, end: p.start + Double(k + 1) * step))
      }
    }
    return out
  }

  /// The mouth at time `t` (seconds).
  public func mouth(at t: Double, phonemes: [Phoneme]) -> MouthShape {
    mouth(at: t, segments: Self.segments(phonemes))
  }

  func mouth(at t: Double, segments: [Segment]) -> MouthShape {
    var weight = SIMD3<Float>(repeating: restDominance)
    var sum = SIMD3<Float>.zero
    let horizon = 0.06 * decayScale * 12
    for s in segments where s.end + horizon > t && s.start - horizon < t {
      let centre = (s.start + s.end) / 2, half = (s.end - s.start) / 2 * plateau
      let distance = max(0, abs(t - centre) - half)
      let d = s.viseme.dominance * Float(exp(-distance / (s.viseme.decay * decayScale)))
      let target = s.viseme.target
      weight += d
      sum += d * SIMD3(target.open, target.width, target.rounding)
    }
    let v = sum / weight
    return MouthShape(open: v.x, width: v.y, rounding: v.z, smile: 0)
  }

  /// Mouth shapes for `frames` video frames at `fps` (frame f shows time f / fps, averaged
  /// over ± half a frame); `offset` seconds are added to every phoneme time.
  public func frames(_ phonemes: [Phoneme], frames: Int, fps: Double, offset: Double = 0) -> [MouthShape] {
    let segments = Self.segments(phonemes).map { Segment(viseme: $0.viseme, start: $0.start + offset, end: $0.end + offset) }
    return (0..<frames).map { f in
      var acc = SIMD3<Float>.zero
      for k in 0..<subsamples {
        let t = (Double(f) - 0.5 + (Double(k) + 0.5) / Double(subsamples)) / fps
        let m = mouth(at: t, segments: segments)
        acc += SIMD3(m.open, m.width, m.rounding)
      }
      acc /= Float(subsamples)
      return MouthShape(open: acc.x, width: acc.y, rounding: acc.z, smile: 0)
    }
  }
}

/// A global expression and prosody: brows, mouth corners and eyes on the face; rate, pitch and
/// range in the voice.
public enum Emotion: String, Sendable, CaseIterable, Codable {
  case neutral, happy, sad, angry, surprised

  /// Offsets of the face: brow raise and inner brows added, smile added to the mouth
  /// corners, eye openness multiplied.
  public var face: (browRaise: Float, browInner: Float, smile: Float, eyes: Float) {
    switch self {
    case .neutral: (0, 0, 0, 1)
    case .happy: (0.25, 0, 0.75, 0.9)
    case .sad: (-0.1, 0.8, -0.55, 0.8)
    case .angry: (-0.7, -0.8, -0.3, 1.05)
    case .surprised: (0.9, 0.2, 0.1, 1.25)
    }
  }

  /// The voice: rate factor on the words per minute, pitch, pitch range, volume.
  public var prosody: (rate: Double, pitch: Int, range: Int, volume: Int) {
    switch self {
    case .neutral: (1, 50, 50, 100)
    case .happy: (1.08, 64, 75, 105)
    case .sad: (0.82, 38, 20, 85)
    case .angry: (1.12, 44, 65, 130)
    case .surprised: (1.0, 68, 85, 105)
    }
  }

  /// The espeak-ng voice for this emotion at `wordsPerMinute` (before the emotion's factor).
  public func voice(_ name: String = "en-us", wordsPerMinute: Int = 160) -> SpeechVoice {
    let p = prosody
    return SpeechVoice(name: name, rate: max(80, min(450, Int((Double(wordsPerMinute) * p.rate).rounded()))),
                       pitch: p.pitch, range: p.range, volume: p.volume)
  }

  /// `expression` with the emotion applied.
  public func apply(to expression: FaceExpression) -> FaceExpression {
    var e = expression
    let f = face
    e.browRaise += f.browRaise
    e.browInner += f.browInner
    e.eyeOpenLeft *= f.eyes
    e.eyeOpenRight *= f.eyes
    e.mouth.smile += f.smile
    return e
  }
}
