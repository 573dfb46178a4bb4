import Foundation
import Tensors

/// An N×N face crop of a frame through a `FaceQuad`, and the transforms between the two.
///
/// Crop pixel (u, v) (pixel centres at integers) shows the frame at `transform.apply((u, v))`:
/// the crop's square from (−½, −½) to (N − ½, N − ½) maps onto the quad's corners, which is PIL's
/// `Image.transform(QUAD, quad + 0.5)` convention used by the FFHQ scripts and STIT. Sampling is
/// bilinear; frame pixels outside the frame read as 0 (black).
public struct FaceCrop: Sendable, Equatable {
  public let quad: FaceQuad
  /// N: the crop's side in pixels (the generator's resolution).
  public let size: Int
  /// Crop pixel → frame pixel.
  public let transform: PerspectiveTransform
  /// Frame pixel → crop pixel: the inverse perspective transform paste-back warps with.
  public let inverse: PerspectiveTransform

  public init(quad: FaceQuad, size: Int) {
    precondition(size > 0, "crop size must be positive")
    let s = Double(size) - 0.5
    let cropCorners: [SIMD2<Double>] = [SIMD2(-0.5, -0.5), SIMD2(-0.5, s), SIMD2(s, s), SIMD2(s, -0.5)]
    guard let transform = PerspectiveTransform(from: cropCorners, to: quad.corners), let inverse = transform.inverse else {
      preconditionFailure("degenerate face quad \(quad): its corners are collinear")
    }
    self.quad = quad
    self.size = size
    self.transform = transform
    self.inverse = inverse
  }

  /// The frame pixels the quad covers, grown by `margin` and clipped to a width × height frame;
  /// nil when the quad lies outside the frame.
  func frameBounds(width: Int, height: Int, margin: Int = 2) -> (x0: Int, y0: Int, x1: Int, y1: Int)? {
    let corners = quad.corners
    let x0 = max(0, Int(corners.map(\.x).min()!.rounded(.down)) - margin)
    let y0 = max(0, Int(corners.map(\.y).min()!.rounded(.down)) - margin)
    let x1 = min(width, Int(corners.map(\.x).max()!.rounded(.up)) + margin + 1)
    let y1 = min(height, Int(corners.map(\.y).max()!.rounded(.up)) + margin + 1)
    return x0 < x1 && y0 < y1 ? (x0, y0, x1, y1) : nil
  }

  /// The crop of a [1, C, H, W] frame: [1, C, N, N].
  public func crop(_ frame: Tensor) -> Tensor {
    precondition(frame.rank == 4 && frame.shape[0] == 1, "FaceCrop.crop takes a [1, C, H, W] frame, got \(frame.shape)")
    return Tensor.warpPerspective(frame, transform: transform, outputSize: (size, size))
  }

  /// The crop of an 8-bit frame: [1, 3, N, N] in 0...1. Only the pixels under the quad are read.
  public func crop(_ frame: RGBImage) -> Tensor {
    guard let b = frameBounds(width: frame.width, height: frame.height) else { return Tensor(zeros: [1, 3, size, size]) }
    let w = b.x1 - b.x0, h = b.y1 - b.y0
    let region = Tensor(shape: [1, 3, h, w]) { out in
      frame.pixels.withUnsafeBufferPointer { src in
        let scale: Float = 1 / 255
        for y in 0..<h {
          for x in 0..<w {
            let s = 3 * ((y + b.y0) * frame.width + x + b.x0), d = y * w + x
            out[d] = Float(src[s]) * scale
            out[h * w + d] = Float(src[s + 1]) * scale
            out[2 * h * w + d] = Float(src[s + 2]) * scale
          }
        }
      }
    }
    // Crop pixel → frame pixel → region pixel.
    let shifted = PerspectiveTransform.translation(x: Double(-b.x0), y: Double(-b.y0)) * transform
    return Tensor.warpPerspective(region, transform: shifted, outputSize: (size, size))
  }

  /// Frame coordinates → crop coordinates (landmarks into the crop).
  public func toCrop(_ point: SIMD2<Double>) -> SIMD2<Double> { inverse.apply(point) }

  /// Crop coordinates → frame coordinates.
  public func toFrame(_ point: SIMD2<Double>) -> SIMD2<Double> { transform.apply(point) }
}
