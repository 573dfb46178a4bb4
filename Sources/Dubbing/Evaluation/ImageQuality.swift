import Dispatch
import Foundation
import Media
import Tensors

/// Full-reference picture metrics on 8-bit RGB frames, each pixel read as byte / 255 in [0, 1].
public enum ImageQuality {
  /// Peak signal-to-noise ratio in dB with peak 1 over all pixels and the three channels:
  /// 10·log10(1 / MSE), as scikit-image's `peak_signal_noise_ratio(x, y, data_range=1)`.
  /// Identical pictures give `+infinity`.
  public static func psnr(_ x: RGBImage, _ y: RGBImage) -> Double {
    let mse = meanSquaredError(x, y)
    return mse == 0 ? .infinity : 10 * log10(1 / mse)
  }

  /// PSNR over the pixels where `include` is true (row-major, width · height): for measuring
  /// what an edit left alone, outside the face. Nil when no pixel is included.
  public static func psnr(_ x: RGBImage, _ y: RGBImage, where include: [Bool]) -> Double? {
    precondition(x.width == y.width && x.height == y.height && include.count == x.width * x.height,
                 "ImageQuality: \(x.width)×\(x.height) against \(y.width)×\(y.height), \(include.count) mask pixels")
    var sum = 0, pixels = 0
    x.pixels.withUnsafeBufferPointer { a in
      y.pixels.withUnsafeBufferPointer { b in
        for p in 0..<include.count where include[p] {
          pixels += 1
          for c in 0..<3 {
            let d = Int(a[3 * p + c]) - Int(b[3 * p + c])
            sum += d * d
          }
        }
      }
    }
    guard pixels > 0 else { return nil }
    let mse = Double(sum) / (255 * 255) / Double(3 * pixels)
    return mse == 0 ? .infinity : 10 * log10(1 / mse)
  }

  /// Mean over pixels and channels of (x − y)², values in [0, 1].
  public static func meanSquaredError(_ x: RGBImage, _ y: RGBImage) -> Double {
    precondition(x.width == y.width && x.height == y.height, "ImageQuality: \(x.width)×\(x.height) against \(y.width)×\(y.height)")
    var sum = 0
    x.pixels.withUnsafeBufferPointer { a in
      y.pixels.withUnsafeBufferPointer { b in
        for i in 0..<a.count {
          let d = Int(a[i]) - Int(b[i])
          sum += d * d
        }
      }
    }
    return Double(sum) / (255 * 255) / Double(x.pixels.count)
  }
}

/// SSIM after Wang et al. 2004, as scikit-image computes it with `gaussian_weights=True,
/// sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=2`:
///
/// - local statistics under a Gaussian window (σ 1.5, 11 taps: radius int(3.5σ + 0.5) = 5,
///   weights exp(−d²/2σ²) normalized to sum 1), population (co)variances;
/// - S = (2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)), C1 = (0.01·L)²,
///   C2 = (0.03·L)², L = 1;
/// - averaged over the pixels at least 5 from every edge (scikit-image crops the window's radius,
///   so its border padding never enters), then over the R, G and B channels.
///
/// The picture must be at least 11×11. Computed in double precision, a band of rows at a time
/// on `Runtime.threads` threads, without holding any full-size intermediate.
public struct StructuralSimilarity: Sendable {
  public var sigma: Double
  public var k1: Double
  public var k2: Double
  /// L, the dynamic range of the values (1 for byte / 255).
  public var dataRange: Double

  public init(sigma: Double = 1.5, k1: Double = 0.01, k2: Double = 0.03, dataRange: Double = 1) {
    precondition(sigma > 0, "StructuralSimilarity: sigma must be positive")
    self.sigma = sigma
    self.k1 = k1
    self.k2 = k2
    self.dataRange = dataRange
  }

  /// Window radius: scikit-image's truncate 3.5 rounded as SciPy's ndimage does.
  public var radius: Int { Int(3.5 * sigma + 0.5) }

  /// The normalized 1-D Gaussian weights, 2·radius + 1 of them.
  public var weights: [Double] {
    let r = radius
    let raw = (-r...r).map { exp(-0.5 * Double($0 * $0) / (sigma * sigma)) }
    let total = raw.reduce(0, +)
    return raw.map { $0 / total }
  }

  /// Mean SSIM over the three channels.
  public func callAsFunction(_ x: RGBImage, _ y: RGBImage) -> Double {
    channels(x, y).reduce(0, +) / 3
  }

  /// The SSIM of the R, G and B channels.
  public func channels(_ x: RGBImage, _ y: RGBImage) -> [Double] {
    precondition(x.width == y.width && x.height == y.height, "SSIM of \(x.width)×\(x.height) against \(y.width)×\(y.height)")
    let r = radius, size = 2 * r + 1
    precondition(x.width >= size && x.height >= size, "SSIM needs pictures of at least \(size)×\(size), got \(x.width)×\(x.height)")
    let width = x.width, height = x.height
    let outWidth = width - 2 * r, outHeight = height - 2 * r
    let g = weights
    let c1 = (k1 * dataRange) * (k1 * dataRange), c2 = (k2 * dataRange) * (k2 * dataRange)
    let scale = dataRange / 255
    // Work items: every channel × a band of output rows; each sums its band's S.
    let bands = max(1, min(outHeight, (Runtime.threads + 2) / 3 * 2))
    let rowsPerBand = (outHeight + bands - 1) / bands
    var sums = [Double](repeating: 0, count: 3 * bands)
    x.pixels.withUnsafeBufferPointer { xp in
      y.pixels.withUnsafeBufferPointer { yp in
        sums.withUnsafeMutableBufferPointer { out in
          let shared = SSIMBuffers(x: xp.baseAddress!, y: yp.baseAddress!, sums: out.baseAddress!)
          let job: @Sendable (Int) -> Void = { item in
            let channel = item % 3, band = item / 3
            let first = band * rowsPerBand, last = min(outHeight, first + rowsPerBand)
            guard first < last else { return }
            shared.sums[item] = Self.bandSum(
              x: shared.x, y: shared.y, channel: channel, width: width, outWidth: outWidth,
              rows: first..<last, weights: g, c1: c1, c2: c2, scale: scale)
          }
          let items = 3 * bands
          if Runtime.threads <= 1 || width * height < 4096 {
            for item in 0..<items { job(item) }
          } else {
            DispatchQueue.concurrentPerform(iterations: items) { job($0) }
          }
        }
      }
    }
    let count = Double(outWidth * outHeight)
    return (0..<3).map { c in (0..<bands).reduce(0.0) { $0 + sums[$1 * 3 + c] } / count }
  }

  /// Σ S over output rows `rows` of one channel. Output row o is picture row o + r; its window
  /// covers picture rows o…o + 2r. Each picture row is filtered horizontally once into a ring
  /// of 2r + 1 rows holding x, y, x², y², xy.
  private static func bandSum(x: UnsafePointer<UInt8>, y: UnsafePointer<UInt8>, channel: Int, width: Int, outWidth: Int,
                              rows: Range<Int>, weights g: [Double], c1: Double, c2: Double, scale: Double) -> Double {
    let size = g.count
    let ring = UnsafeMutablePointer<Double>.allocate(capacity: size * 5 * outWidth)
    let xs = UnsafeMutablePointer<Double>.allocate(capacity: width)
    let ys = UnsafeMutablePointer<Double>.allocate(capacity: width)
    let stats = UnsafeMutablePointer<Double>.allocate(capacity: 5 * outWidth)
    defer { ring.deallocate(); xs.deallocate(); ys.deallocate(); stats.deallocate() }
    func filterRow(_ row: Int) {
      let slot = ring + (row % size) * 5 * outWidth
      let px = x + row * width * 3 + channel, py = y + row * width * 3 + channel
      for i in 0..<width {
        xs[i] = Double(px[3 * i]) * scale
        ys[i] = Double(py[3 * i]) * scale
      }
      for o in 0..<outWidth {
        var mx = 0.0, my = 0.0, mxx = 0.0, myy = 0.0, mxy = 0.0
        for k in 0..<size {
          let w = g[k], a = xs[o + k], b = ys[o + k]
          mx += w * a
          my += w * b
          mxx += w * a * a
          myy += w * b * b
          mxy += w * a * b
        }
        slot[o] = mx
        slot[outWidth + o] = my
        slot[2 * outWidth + o] = mxx
        slot[3 * outWidth + o] = myy
        slot[4 * outWidth + o] = mxy
      }
    }
    for row in rows.lowerBound..<(rows.lowerBound + size - 1) { filterRow(row) }
    var total = 0.0
    for o in rows {
      filterRow(o + size - 1)
      for i in 0..<(5 * outWidth) { stats[i] = 0 }
      for k in 0..<size {
        let slot = ring + ((o + k) % size) * 5 * outWidth, w = g[k]
        for i in 0..<(5 * outWidth) { stats[i] += w * slot[i] }
      }
      for i in 0..<outWidth {
        let mx = stats[i], my = stats[outWidth + i]
        let vx = stats[2 * outWidth + i] - mx * mx, vy = stats[3 * outWidth + i] - my * my
        let vxy = stats[4 * outWidth + i] - mx * my
        total += ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
      }
    }
    return total
  }
}

/// Pointers shared by the SSIM threads: the pictures are only read, and each work item writes
/// its own slot of `sums`.
private struct SSIMBuffers: @unchecked Sendable {
  let x: UnsafePointer<UInt8>
  let y: UnsafePointer<UInt8>
  let sums: UnsafeMutablePointer<Double>
}
