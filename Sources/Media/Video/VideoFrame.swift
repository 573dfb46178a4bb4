import Tensors

/// One decoded frame with its place in the clip.
public struct VideoFrame: Sendable {
  /// Position in presentation order, from 0.
  public let index: Int
  /// Presentation timestamp in the stream's time base.
  public let pts: Int64
  /// Presentation time in seconds (pts × time base).
  public let time: Double
  /// The picture, upright when the reader rotates.
  public let image: RGBImage

  /// [1, 3, H, W] float32 in 0...1.
  public func tensor() -> Tensor { image.tensor() }
}
