import Foundation
import Tensors

/// Puts an edited face crop back into its frame without a seam.
///
/// The crop-space mask (the whole crop, or a face-parsing mask) is dilated (closing holes), then
/// eroded (pulling its edge in from the crop's border), then feathered with a Gaussian; crop and
/// mask are warped into the frame with the crop's inverse perspective transform (bilinear), and
/// blended: frame·(1 − α) + crop·α. Frame pixels where α is 0 — everything outside the feathered
/// mask — are left exactly as they were.
public struct PasteBack: Sendable {
  public struct Settings: Sendable, Equatable {
    /// Square dilation radius in crop pixels (0: none).
    public var dilation: Int
    /// Square erosion radius in crop pixels, applied after the dilation.
    public var erosion: Int
    /// Gaussian feather σ in crop pixels (0: a hard edge).
    public var feather: Double

    public init(dilation: Int = 0, erosion: Int, feather: Double) {
      self.dilation = dilation
      self.erosion = erosion
      self.feather = feather
    }

    /// For an N×N crop: erosion N/32 (at least 2) and feather σ N/128 (at least 0.5) — 32 and 8
    /// pixels at 1024² — so the feather (radius 3σ) ends inside the crop.
    public static func standard(cropSize: Int) -> Settings {
      Settings(dilation: 0, erosion: max(2, cropSize / 32), feather: max(0.5, Double(cropSize) / 128))
    }
  }

  public let cropSize: Int
  public let settings: Settings
  /// α over the crop (N·N, row-major) for a whole-crop mask; computed once.
  public let cropAlpha: [Float]

  public init(cropSize: Int, settings: Settings? = nil) {
    precondition(cropSize > 0, "crop size must be positive")
    self.cropSize = cropSize
    let settings = settings ?? .standard(cropSize: cropSize)
    self.settings = settings
    cropAlpha = Self.alpha([Float](repeating: 1, count: cropSize * cropSize), size: cropSize, settings: settings)
  }

  static func alpha(_ mask: [Float], size: Int, settings: Settings) -> [Float] {
    var m = MaskFilters.morphology(mask, width: size, height: size, radius: settings.dilation, dilate: true)
    m = MaskFilters.morphology(m, width: size, height: size, radius: settings.erosion, dilate: false)
    return MaskFilters.gaussianBlur(m, width: size, height: size, sigma: settings.feather).map { min(1, max(0, $0)) }
  }

  /// α over the crop for a face mask ([1, 1, N, N] or [N, N], values in 0...1).
  public func alpha(faceMask: Tensor) -> [Float] {
    precondition(faceMask.count == cropSize * cropSize, "face mask \(faceMask.shape) for a \(cropSize)² crop")
    return Self.alpha(faceMask.scalars, size: cropSize, settings: settings)
  }

  /// The crop warped into the frame region under the quad: (region origin, size, [1, 4, h, w]
  /// with premultiplied RGB and α).
  private func warpedCrop(_ edited: Tensor, alpha: [Float], crop: FaceCrop, width: Int, height: Int)
    -> (x0: Int, y0: Int, w: Int, h: Int, layers: Tensor)? {
    precondition(edited.shape == [1, 3, cropSize, cropSize], "edited crop \(edited.shape), expected [1, 3, \(cropSize), \(cropSize)]")
    precondition(crop.size == cropSize, "a \(crop.size)² FaceCrop with a PasteBack for \(cropSize)²")
    guard let b = crop.frameBounds(width: width, height: height) else { return nil }
    let plane = cropSize * cropSize
    let layers = Tensor(shape: [1, 4, cropSize, cropSize]) { out in
      edited.withUnsafeBufferPointer { rgb in
        alpha.withUnsafeBufferPointer { a in
          for c in 0..<3 { for i in 0..<plane { out[c * plane + i] = rgb[c * plane + i] * a[i] } }
          for i in 0..<plane { out[3 * plane + i] = a[i] }
        }
      }
    }
    let w = b.x1 - b.x0, h = b.y1 - b.y0
    // Region pixel → frame pixel → crop pixel.
    let matrix = crop.inverse * PerspectiveTransform.translation(x: Double(b.x0), y: Double(b.y0))
    return (b.x0, b.y0, w, h, Tensor.warpPerspective(layers, transform: matrix, outputSize: (h, w)))
  }

  /// `frame` with `edited` ([1, 3, N, N] in 0...1) pasted over the crop's quad.
  public func paste(_ edited: Tensor, into frame: RGBImage, crop: FaceCrop, faceMask: Tensor? = nil) -> RGBImage {
    let alpha = faceMask.map { self.alpha(faceMask: $0) } ?? cropAlpha
    guard let r = warpedCrop(edited, alpha: alpha, crop: crop, width: frame.width, height: frame.height) else { return frame }
    var out = frame
    let plane = r.w * r.h
    r.layers.withUnsafeBufferPointer { layer in
      out.pixels.withUnsafeMutableBufferPointer { px in
        for y in 0..<r.h {
          for x in 0..<r.w {
            let i = y * r.w + x
            let a = min(1, layer[3 * plane + i])
            if a <= 0 { continue }
            let p = 3 * ((y + r.y0) * frame.width + x + r.x0)
            for c in 0..<3 {
              let v = (Float(px[p + c]) * (1 - a) + layer[c * plane + i] * 255) + 0.5
              px[p + c] = v >= 255 ? 255 : (v > 0 ? UInt8(v) : 0)
            }
          }
        }
      }
    }
    return out
  }

  /// `frame` ([1, 3, H, W]) with `edited` pasted over the crop's quad.
  public func paste(_ edited: Tensor, into frame: Tensor, crop: FaceCrop, faceMask: Tensor? = nil) -> Tensor {
    precondition(frame.rank == 4 && frame.shape[0] == 1 && frame.shape[1] == 3, "paste into a [1, 3, H, W] frame, got \(frame.shape)")
    let height = frame.shape[2], width = frame.shape[3]
    let alpha = faceMask.map { self.alpha(faceMask: $0) } ?? cropAlpha
    guard let r = warpedCrop(edited, alpha: alpha, crop: crop, width: width, height: height) else { return frame }
    var out = frame.detached()
    let plane = r.w * r.h, framePlane = width * height
    r.layers.withUnsafeBufferPointer { layer in
      out.withUnsafeMutableBufferPointer { px in
        for y in 0..<r.h {
          for x in 0..<r.w {
            let i = y * r.w + x
            let a = min(1, layer[3 * plane + i])
            if a <= 0 { continue }
            let p = (y + r.y0) * width + x + r.x0
            for c in 0..<3 { px[c * framePlane + p] = px[c * framePlane + p] * (1 - a) + layer[c * plane + i] }
          }
        }
      }
    }
    return out
  }
}
