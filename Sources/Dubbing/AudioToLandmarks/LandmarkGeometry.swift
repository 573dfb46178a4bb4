import Foundation

/// A 2-D similarity transform: x ↦ scale · R(angle) · x + translation.
public struct Similarity2D: Sendable, Equatable {
  public var scale: Double
  public var angle: Double
  public var translation: SIMD2<Double>

  public init(scale: Double, angle: Double, translation: SIMD2<Double>) {
    self.scale = scale
    self.angle = angle
    self.translation = translation
  }

  public func apply(_ p: SIMD2<Double>) -> SIMD2<Double> {
    let (c, s) = (cos(angle), sin(angle))
    return scale * SIMD2(c * p.x - s * p.y, s * p.x + c * p.y) + translation
  }

  public func inverse(_ p: SIMD2<Double>) -> SIMD2<Double> {
    let q = (p - translation) / scale
    let (c, s) = (cos(angle), sin(angle))
    return SIMD2(c * q.x + s * q.y, -s * q.x + c * q.y)
  }
}

/// The coordinate frames the audio-to-landmark model works in.
///
/// - canonical: a face with its pose removed — centred on its landmarks' centroid, the eye line
///   horizontal, unit RMS distance from the centroid. The predictor works here.
/// - clip-normalized: the clip's pixels minus the clip's mean face centre, divided by its mean
///   face size; the head's motion within the clip stays. The alignment network outputs here.
public enum LandmarkGeometry {
  /// The pose of one face: canonical = pose.inverse(landmark).
  public static func pose(of points: [SIMD2<Double>]) -> Similarity2D {
    precondition(points.count == 68, "pose(of:) takes 68 landmarks, got \(points.count)")
    let centroid = points.reduce(.zero, +) / Double(points.count)
    let rms = (points.reduce(0) { $0 + simdLengthSquared($1 - centroid) } / Double(points.count)).squareRoot()
    let leftEye = points[36..<42].reduce(.zero, +) / 6, rightEye = points[42..<48].reduce(.zero, +) / 6
    let eyeLine = rightEye - leftEye
    return Similarity2D(scale: max(rms, 1e-9), angle: atan2(eyeLine.y, eyeLine.x), translation: centroid)
  }

  public static func canonical(_ points: [SIMD2<Double>]) -> [SIMD2<Double>] {
    let p = pose(of: points)
    return points.map(p.inverse)
  }

  /// The similarity that maps `source` closest to `target` in least squares (same count, ≥ 2).
  public static func similarity(from source: [SIMD2<Double>], to target: [SIMD2<Double>]) -> Similarity2D {
    precondition(source.count == target.count && source.count >= 2, "similarity(from:to:) needs two matching point lists")
    let n = Double(source.count)
    let ms = source.reduce(.zero, +) / n, mt = target.reduce(.zero, +) / n
    // As complex numbers: t − mt ≈ z · (s − ms), z = Σ conj(a)·b / Σ |a|².
    var re = 0.0, im = 0.0, norm = 0.0
    for (s, t) in zip(source, target) {
      let a = s - ms, b = t - mt
      re += a.x * b.x + a.y * b.y
      im += a.x * b.y - a.y * b.x
      norm += simdLengthSquared(a)
    }
    guard norm > 0 else { return Similarity2D(scale: 1, angle: 0, translation: mt - ms) }
    let scale = (re * re + im * im).squareRoot() / norm, angle = atan2(im, re)
    let rotated = Similarity2D(scale: scale, angle: angle, translation: .zero).apply(ms)
    return Similarity2D(scale: scale, angle: angle, translation: mt - rotated)
  }

  /// The clip's face centre and size over frames with a face: clip-normalized = (x − centre) / size.
  public static func clipFrame(_ frames: [[SIMD2<Double>]]) -> (center: SIMD2<Double>, size: Double) {
    precondition(!frames.isEmpty, "clipFrame needs at least one frame with a face")
    let poses = frames.map(pose(of:))
    let center = poses.map(\.translation).reduce(.zero, +) / Double(poses.count)
    let size = poses.map(\.scale).reduce(0, +) / Double(poses.count)
    return (center, size)
  }
}

@inline(__always) func simdLengthSquared(_ v: SIMD2<Double>) -> Double { v.x * v.x + v.y * v.y }
