import Tensors

/// An 8-bit RGB picture, rows top to bottom, pixels packed R, G, B (FFmpeg's rgb24 layout).
public struct RGBImage: Sendable, Equatable {
  public let width: Int
  public let height: Int
  /// `height · width · 3` bytes, row-major.
  public var pixels: [UInt8]

  public init(width: Int, height: Int, pixels: [UInt8]) {
    precondition(width > 0 && height > 0, "RGBImage needs a positive size, got \(width)×\(height)")
    precondition(pixels.count == width * height * 3, "RGBImage \(width)×\(height) needs \(width * height * 3) bytes, got \(pixels.count)")
    self.width = width
    self.height = height
    self.pixels = pixels
  }

  /// A picture filled by `body(x, y) -> (r, g, b)`.
  public init(width: Int, height: Int, body: (Int, Int) -> (UInt8, UInt8, UInt8)) {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    var i = 0
    for y in 0..<height {
      for x in 0..<width {
        let (r, g, b) = body(x, y)
        pixels[i] = r
        pixels[i + 1] = g
        pixels[i + 2] = b
        i += 3
      }
    }
    self.init(width: width, height: height, pixels: pixels)
  }

  /// [1, 3, H, W] float32 with values in 0...1 (byte / 255).
  public func tensor() -> Tensor {
    let plane = width * height
    return Tensor(shape: [1, 3, height, width]) { out in
      pixels.withUnsafeBufferPointer { src in
        let scale: Float = 1 / 255
        for i in 0..<plane {
          out[i] = Float(src[3 * i]) * scale
          out[plane + i] = Float(src[3 * i + 1]) * scale
          out[2 * plane + i] = Float(src[3 * i + 2]) * scale
        }
      }
    }
  }

  /// The picture of a [1, 3, H, W] or [3, H, W] tensor with values in 0...1: each value is
  /// clamped and rounded to the nearest byte, so `RGBImage(tensor: image.tensor()) == image`.
  public init(tensor: Tensor) {
    let dims = tensor.shape.dims
    precondition((dims.count == 4 && dims[0] == 1 && dims[1] == 3) || (dims.count == 3 && dims[0] == 3),
                 "RGBImage(tensor:) needs [1, 3, H, W] or [3, H, W], got \(tensor.shape)")
    let height = dims[dims.count - 2], width = dims[dims.count - 1]
    let plane = width * height
    var pixels = [UInt8](repeating: 0, count: plane * 3)
    tensor.withUnsafeBufferPointer { src in
      pixels.withUnsafeMutableBufferPointer { dst in
        for c in 0..<3 {
          for i in 0..<plane {
            let v = src[c * plane + i] * 255 + 0.5
            dst[3 * i + c] = v >= 255 ? 255 : (v > 0 ? UInt8(v) : 0)
          }
        }
      }
    }
    self.init(width: width, height: height, pixels: pixels)
  }

  /// The picture turned clockwise by `degrees` (0, 90, 180 or 270).
  public func rotated(clockwise degrees: Int) -> RGBImage {
    let turn = ((degrees % 360) + 360) % 360
    precondition(turn % 90 == 0, "rotation must be a multiple of 90 degrees, got \(degrees)")
    if turn == 0 { return self }
    let (w, h) = (width, height)
    let (ow, oh) = turn == 180 ? (w, h) : (h, w)
    var out = [UInt8](repeating: 0, count: pixels.count)
    pixels.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for y in 0..<h {
          for x in 0..<w {
            let (ox, oy): (Int, Int)
            switch turn {
            case 90: (ox, oy) = (h - 1 - y, x)
            case 180: (ox, oy) = (w - 1 - x, h - 1 - y)
            default: (ox, oy) = (y, w - 1 - x)
            }
            let s = 3 * (y * w + x), d = 3 * (oy * ow + ox)
            dst[d] = src[s]
            dst[d + 1] = src[s + 1]
            dst[d + 2] = src[s + 2]
          }
        }
      }
    }
    return RGBImage(width: ow, height: oh, pixels: out)
  }

  /// Peak signal-to-noise ratio in dB against another picture of the same size (infinity when equal).
  public func psnr(against other: RGBImage) -> Double {
    precondition(width == other.width && height == other.height, "psnr of \(width)×\(height) against \(other.width)×\(other.height)")
    var sum = 0.0
    pixels.withUnsafeBufferPointer { a in
      other.pixels.withUnsafeBufferPointer { b in
        for i in 0..<a.count {
          let d = Double(Int(a[i]) - Int(b[i]))
          sum += d * d
        }
      }
    }
    if sum == 0 { return .infinity }
    return 10 * log10(255.0 * 255.0 / (sum / Double(pixels.count)))
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
