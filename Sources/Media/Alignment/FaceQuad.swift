import Foundation

/// The oriented square an FFHQ-style face crop takes from a frame: centre `center`, half-axes
/// `x` (towards the image's right of the face) and `y` (down the face, `y` = `x` turned 90°).
/// Its corners, in the order the crop's top-left, bottom-left, bottom-right and top-right pixels
/// come from, are c − x − y, c − x + y, c + x + y, c + x − y.
public struct FaceQuad: Sendable, Equatable {
  public var center: SIMD2<Double>
  public var x: SIMD2<Double>
  public var y: SIMD2<Double>

  public init(center: SIMD2<Double>, x: SIMD2<Double>, y: SIMD2<Double>) {
    self.center = center
    self.x = x
    self.y = y
  }

  /// The FFHQ alignment of Karras et al. (as in the FFHQ dataset scripts and STIT): from the eye
  /// centres and mouth corners,
  ///   eye_to_eye = right_eye − left_eye, eye_to_mouth = mouth_avg − eye_avg,
  ///   x = eye_to_eye − rot90(eye_to_mouth), normalized, times
  ///       max(2·|eye_to_eye|, 1.8·|eye_to_mouth|) · scale,
  ///   y = rot90(x), c = eye_avg + 0.1·eye_to_mouth,
  /// with rot90(v) = (−v.y, v.x).
  public init(landmarks: FaceLandmarks, scale: Double = 1) {
    let eyeLeft = FaceLandmarks.mean(landmarks.leftEye), eyeRight = FaceLandmarks.mean(landmarks.rightEye)
    let eyeAverage = (eyeLeft + eyeRight) * 0.5
    let eyeToEye = eyeRight - eyeLeft
    let mouthLeft = landmarks.points[48], mouthRight = landmarks.points[54]
    let mouthAverage = (mouthLeft + mouthRight) * 0.5
    let eyeToMouth = mouthAverage - eyeAverage
    var x = eyeToEye - SIMD2(-eyeToMouth.y, eyeToMouth.x)
    x /= Self.length(x)
    x *= max(Self.length(eyeToEye) * 2, Self.length(eyeToMouth) * 1.8) * scale
    self.init(center: eyeAverage + eyeToMouth * 0.1, x: x, y: SIMD2(-x.y, x.x))
  }

  static func length(_ v: SIMD2<Double>) -> Double { hypot(v.x, v.y) }

  /// Top-left, bottom-left, bottom-right, top-right (as the crop sees them).
  public var corners: [SIMD2<Double>] { [center - x - y, center - x + y, center + x + y, center + x - y] }

  /// The side of the square in frame pixels (2·|x|).
  public var side: Double { 2 * Self.length(x) }

  /// Temporal smoothing of a clip's quads, as STIT does: each of centre, x and y is filtered over
  /// the frames with a Gaussian (σ `centerSigma` for the centre, `axisSigma` for both axes; 0
  /// leaves it), with scipy.ndimage.gaussian_filter1d's kernel (radius ⌊4σ + 0.5⌋) and edges
  /// (mirror including the edge sample).
  public static func smoothed(_ quads: [FaceQuad], centerSigma: Double = 1, axisSigma: Double = 3) -> [FaceQuad] {
    if quads.isEmpty { return quads }
    func filter(_ values: [SIMD2<Double>], _ sigma: Double) -> [SIMD2<Double>] {
      let xs = gaussianFilter1D(values.map(\.x), sigma: sigma), ys = gaussianFilter1D(values.map(\.y), sigma: sigma)
      return zip(xs, ys).map { SIMD2($0, $1) }
    }
    let centers = filter(quads.map(\.center), centerSigma)
    let xs = filter(quads.map(\.x), axisSigma), ys = filter(quads.map(\.y), axisSigma)
    return quads.indices.map { FaceQuad(center: centers[$0], x: xs[$0], y: ys[$0]) }
  }
}

/// scipy.ndimage.gaussian_filter1d(values, sigma) with mode "reflect" and truncate 4.
func gaussianFilter1D(_ values: [Double], sigma: Double) -> [Double] {
  let n = values.count
  guard sigma > 0, n > 0 else { return values }
  let radius = Int(4 * sigma + 0.5)
  var weights = (-radius...radius).map { exp(-0.5 * Double($0 * $0) / (sigma * sigma)) }
  let total = weights.reduce(0, +)
  weights = weights.map { $0 / total }
  func reflect(_ i: Int) -> Int {
    let period = 2 * n
    let j = ((i % period) + period) % period
    return j < n ? j : period - 1 - j
  }
  return (0..<n).map { i in
    var sum = 0.0
    for k in -radius...radius { sum += weights[k + radius] * values[reflect(i + k)] }
    return sum
  }
}
