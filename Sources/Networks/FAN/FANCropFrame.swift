/// face-alignment's crop frame: a face's center and scale in image pixels. A crop at
/// `resolution` pixels spans 200·scale image pixels around the center (the package's
/// `transform`), so a FAN input crop (256²) and its heatmaps (64²) share one frame.
public struct FANCropFrame: Sendable, Equatable, CustomStringConvertible {
  public var center: SIMD2<Double>
  public var scale: Double

  public init(center: SIMD2<Double>, scale: Double) {
    precondition(scale > 0, "FANCropFrame: scale must be positive, got \(scale)")
    self.center = center
    self.scale = scale
  }

  /// The frame face-alignment takes from a detector box (x1, y1, x2, y2): the box center moved
  /// up by 0.12 of the box height, and scale (width + height) / 195.
  public init(box: FaceBox) {
    let (w, h) = (box.x2 - box.x1, box.y2 - box.y1)
    self.init(center: SIMD2(box.x2 - w / 2, box.y2 - h / 2 - h * 0.12), scale: (w + h) / 195)
  }

  /// The frame of an image that is itself the crop: `size` pixels square map onto a crop of the
  /// same size with no change of coordinates.
  public static func identity(size: Int) -> FANCropFrame {
    FANCropFrame(center: SIMD2(Double(size) / 2, Double(size) / 2), scale: Double(size) / 200)
  }

  /// Side of the frame in image pixels.
  public var side: Double { 200 * scale }

  /// A point in a `resolution`-pixel crop of this frame → image coordinates (exact, unrounded).
  public func imagePoint(_ p: SIMD2<Double>, resolution: Double) -> SIMD2<Double> {
    p * (side / resolution) + center - side / 2
  }

  /// An image point → coordinates in a `resolution`-pixel crop of this frame (exact, unrounded).
  public func cropPoint(_ p: SIMD2<Double>, resolution: Double) -> SIMD2<Double> {
    (p - center) * (resolution / side) + resolution / 2
  }

  public var description: String { "FANCropFrame(center: (\(center.x), \(center.y)), scale: \(scale))" }
}
