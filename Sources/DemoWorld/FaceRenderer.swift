import Foundation
import Media

/// Draws a cartoon face that follows its 68 landmarks (iBUG order): skin over the jaw line and
/// a forehead arc, brows, eyes with irises, nose, lips and the open mouth — anti-aliased by 4×4
/// supersampling. The demo's clips are drawn with it, so their landmarks are exact.
public struct FaceRenderer: Sendable {
  public var width: Int
  public var height: Int

  public init(width: Int, height: Int) {
    self.width = width
    self.height = height
  }

  typealias Color = SIMD3<Double>

  public func render(_ p: [SIMD2<Double>]) -> RGBImage {
    precondition(p.count == 68, "FaceRenderer draws 68 landmarks, got \(p.count)")
    var canvas = [Color](repeating: .zero, count: width * height)
    for y in 0..<height {
      let t = Double(y) / Double(max(height - 1, 1))
      for x in 0..<width { canvas[y * width + x] = Color(0.25 + 0.2 * t, 0.3 + 0.1 * t, 0.45 - 0.1 * t) }
    }
    let left = p[0], right = p[16]
    let center = (left + right) / 2, across = right - left
    let radius = (across.x * across.x + across.y * across.y).squareRoot() / 2
    let angle = atan2(across.y, across.x)
    let (c, s) = (cos(angle), sin(angle))
    // The forehead: an arc from the right temple over the top of the head to the left.
    let forehead = (0...12).map { k -> SIMD2<Double> in
      let a = Double.pi * Double(k) / 12
      let local = SIMD2(radius * cos(a), -1.05 * radius * sin(a))
      return center + SIMD2(c * local.x - s * local.y, s * local.x + c * local.y)
    }
    let hair = forehead.map { center + ($0 - center) * 1.08 }
    fill(&canvas, polygon: hair + [center + (left - center) * 1.08], color: Color(0.25, 0.15, 0.08))
    fill(&canvas, polygon: Array(p[0...16]) + forehead.dropFirst().dropLast(), color: Color(0.93, 0.76, 0.62))
    let line = radius * 0.06
    for brow in [p[17...21], p[22...26]] { stroke(&canvas, Array(brow), width: line * 1.4, color: Color(0.3, 0.18, 0.1)) }
    for eye in [p[36...41], p[42...47]] {
      let points = Array(eye)
      fill(&canvas, polygon: points, color: Color(0.97, 0.97, 0.95))
      let middle = points.reduce(.zero, +) / 6
      let eyeWidth = ((points[3] - points[0]) * (points[3] - points[0])).sum().squareRoot()
      fill(&canvas, polygon: circle(middle, eyeWidth * 0.2), color: Color(0.2, 0.35, 0.5), clip: points)
    }
    stroke(&canvas, Array(p[27...30]), width: line, color: Color(0.75, 0.55, 0.45))
    stroke(&canvas, Array(p[31...35]), width: line, color: Color(0.7, 0.5, 0.4))
    fill(&canvas, polygon: Array(p[48...59]), color: Color(0.75, 0.3, 0.32))
    fill(&canvas, polygon: Array(p[60...67]), color: Color(0.25, 0.05, 0.08))
    let bytes = canvas.flatMap { [UInt8(clamping: Int(($0.x * 255).rounded())), UInt8(clamping: Int(($0.y * 255).rounded())),
                                   UInt8(clamping: Int(($0.z * 255).rounded()))] }
    return RGBImage(width: width, height: height, pixels: bytes)
  }

  private func circle(_ c: SIMD2<Double>, _ r: Double) -> [SIMD2<Double>] {
    (0..<16).map { c + r * SIMD2(cos(Double($0) * Double.pi / 8), sin(Double($0) * Double.pi / 8)) }
  }

  /// Even-odd fill with coverage from 4×4 samples per pixel, optionally only inside `clip`.
  private func fill(_ canvas: inout [Color], polygon: [SIMD2<Double>], color: Color, clip: [SIMD2<Double>]? = nil) {
    cover(&canvas, bounds: polygon, color: color) { q in Self.inside(q, polygon) && (clip.map { Self.inside(q, $0) } ?? true) }
  }

  /// A polyline of the given width.
  private func stroke(_ canvas: inout [Color], _ points: [SIMD2<Double>], width w: Double, color: Color) {
    let grown = points.flatMap { [$0 - SIMD2(w, w), $0 + SIMD2(w, w)] }
    cover(&canvas, bounds: grown, color: color) { q in
      zip(points, points.dropFirst()).contains { Self.distance(q, $0, $1) <= w / 2 }
    }
  }

  private func cover(_ canvas: inout [Color], bounds: [SIMD2<Double>], color: Color, _ hit: (SIMD2<Double>) -> Bool) {
    guard let minX = bounds.map(\.x).min(), let maxX = bounds.map(\.x).max(),
          let minY = bounds.map(\.y).min(), let maxY = bounds.map(\.y).max() else { return }
    let x0 = max(0, Int(minX.rounded(.down)) - 1), x1 = min(width - 1, Int(maxX.rounded(.up)) + 1)
    let y0 = max(0, Int(minY.rounded(.down)) - 1), y1 = min(height - 1, Int(maxY.rounded(.up)) + 1)
    guard x0 <= x1, y0 <= y1 else { return }
    for y in y0...y1 {
      for x in x0...x1 {
        var hits = 0
        for sy in 0..<4 {
          for sx in 0..<4 where hit(SIMD2(Double(x) - 0.375 + 0.25 * Double(sx), Double(y) - 0.375 + 0.25 * Double(sy))) { hits += 1 }
        }
        if hits > 0 {
          let a = Double(hits) / 16
          canvas[y * width + x] = canvas[y * width + x] * (1 - a) + color * a
        }
      }
    }
  }

  static func inside(_ q: SIMD2<Double>, _ polygon: [SIMD2<Double>]) -> Bool {
    var result = false
    var j = polygon.count - 1
    for i in polygon.indices {
      let (a, b) = (polygon[i], polygon[j])
      if (a.y > q.y) != (b.y > q.y) && q.x < (b.x - a.x) * (q.y - a.y) / (b.y - a.y) + a.x { result.toggle() }
      j = i
    }
    return result
  }

  static func distance(_ q: SIMD2<Double>, _ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double {
    let ab = b - a, aq = q - a
    let t = max(0, min(1, (aq * ab).sum() / max((ab * ab).sum(), 1e-12)))
    let d = aq - ab * t
    return (d * d).sum().squareRoot()
  }
}

/// The demo's inputs: a speaker saying one sentence (the clip, drawn by `FaceRenderer`, with its
/// exact landmarks) and another sentence's audio (the dub).
public enum DemoClip {
  public static let width = 256, height = 192

  /// Writes `clip.mp4` (with the speaker's own audio), `landmarks.safetensors` and `dub.wav`;
  /// `frames` keeps only the sentence's first frames (and as much of both audio tracks).
  public static func write(to folder: URL, seed: UInt64 = 11, frames: Int? = nil) throws {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let clipSentence = SyntheticSpeechCorpus.sentence(seed), dubSentence = SyntheticSpeechCorpus.sentence(seed &+ 1)
    let voice = SyntheticSpeechCorpus.voices["neutral"]!
    // The corpus draws faces in a 320×240 frame; the demo frame is 256×192.
    let landmarks = SyntheticSpeechCorpus.landmarks(clipSentence, voice: voice, speaker: 0, angle: 0, seed: seed)
      .map { $0.map { $0 * 0.8 } }.prefix(frames ?? .max).map { $0 }
    let samples = frames.map { $0 * 16_000 / 25 } ?? .max
    let renderer = FaceRenderer(width: width, height: height)
    let speech = Array(SyntheticSpeechCorpus.audio(clipSentence, voice: voice, seed: seed).prefix(samples))
    let writer = try VideoWriter(path: folder.appendingPathComponent("clip.mp4").path, width: width, height: height,
                                 frameRate: Rational(25, 1), audio: .samples(AudioBuffer(samples: speech, sampleRate: 16_000)))
    for frame in landmarks { try writer.append(renderer.render(frame)) }
    try writer.finish()
    try SyntheticSpeechCorpus.writeLandmarks(landmarks, to: folder.appendingPathComponent("landmarks.safetensors"),
                                             width: width, height: height)
    let dub = Array(SyntheticSpeechCorpus.audio(dubSentence, voice: SyntheticSpeechCorpus.voices["happy"]!, seed: seed &+ 1).prefix(samples))
    try SyntheticSpeechCorpus.wav(dub).write(to: folder.appendingPathComponent("dub.wav"))
  }
}
