/// The 68 facial landmarks of the iBUG 300-W scheme (what FAN and dlib predict), in pixel
/// coordinates of the frame: x to the right, y down, pixel centres at integers.
public struct FaceLandmarks: Sendable, Equatable {
  public var points: [SIMD2<Double>]

  public init(_ points: [SIMD2<Double>]) {
    precondition(points.count == 68, "FaceLandmarks needs the 68 iBUG points, got \(points.count)")
    self.points = points
  }

  /// Points 36–41: the eye on the left of the image (the subject's right eye).
  public var leftEye: ArraySlice<SIMD2<Double>> { points[36..<42] }
  /// Points 42–47.
  public var rightEye: ArraySlice<SIMD2<Double>> { points[42..<48] }
  /// Points 48–59: the outer lip contour; 48 and 54 are the mouth corners.
  public var outerMouth: ArraySlice<SIMD2<Double>> { points[48..<60] }

  static func mean(_ points: ArraySlice<SIMD2<Double>>) -> SIMD2<Double> {
    points.reduce(SIMD2<Double>(0, 0), +) / Double(points.count)
  }
}
