import Networks

/// Landmark distances between two faces in the same pixel frame (iBUG-68 order).
///
/// - F-LD: the mean over all 68 points of the Euclidean distance between corresponding points.
/// - M-LD: the same mean over the 20 mouth points, 48–67 (outer lip 48–59, inner lip 60–67).
///
/// Both are in the pixels the points are given in; redub evaluates in the reference clip's frame
/// pixels, unnormalized (how the paper's Table I normalizes them, if it does, is not known here).
public enum LandmarkDistance {
  /// iBUG-68 indices of the mouth.
  public static let mouthIndices = 48..<68
  public static let allIndices = 0..<68

  /// Mean Euclidean distance over `indices`.
  public static func mean(_ a: [SIMD2<Double>], _ b: [SIMD2<Double>], over indices: Range<Int>) -> Double {
    precondition(a.count == FAN.landmarkCount && b.count == FAN.landmarkCount,
                 "LandmarkDistance: need 68 points on each side, got \(a.count) and \(b.count)")
    var sum = 0.0
    for i in indices {
      let d = a[i] - b[i]
      sum += (d * d).sum().squareRoot()
    }
    return sum / Double(indices.count)
  }

  /// F-LD: mean distance over all 68 points.
  public static func full(_ a: [SIMD2<Double>], _ b: [SIMD2<Double>]) -> Double { mean(a, b, over: allIndices) }

  /// M-LD: mean distance over the mouth's 20 points.
  public static func mouth(_ a: [SIMD2<Double>], _ b: [SIMD2<Double>]) -> Double { mean(a, b, over: mouthIndices) }
}
