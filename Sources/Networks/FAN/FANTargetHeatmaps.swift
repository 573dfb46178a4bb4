import Foundation
import Tensors

/// Target heatmaps for landmarks, drawn as face-alignment 1.5.0's `create_target_heatmap`
/// draws them: each landmark (image pixels) is mapped into the 64² heatmap frame (+1, then the
/// package's float32 `transform`, truncated to integers) and a 13×13 Gaussian of standard
/// deviation 3.25 pixels and peak 1 is added there (`draw_gaussian` with σ = 2, with its
/// 1-based clipping at the borders), then values are capped at 1.
///
/// `.exact` placement draws the same Gaussian centred where the landmark falls, between pixels:
/// the truncation moves a point by up to a heatmap pixel (6 frame pixels for the demo's 32²
/// heatmaps), more than the mouth movements L_fan has to steer. The centre is the truncated
/// position's average (`c − ½` for the transform's value c), so a FAN trained on truncated
/// targets and `FANLandmarks.decode` agree with it.
public enum FANTargetHeatmaps {
  public enum Placement: Sendable {
    /// face-alignment's: the Gaussian's peak on the truncated pixel.
    case truncated
    /// The Gaussian centred at the exact (sub-pixel) position.
    case exact
  }

  /// The kernel's standard deviation in heatmap pixels (`_gaussian`'s sigma 0.25 of 13).
  static let sigma = 0.25 * 13
  /// The 13×13 kernel of `_gaussian(size=13)`: exp(−((j+1−7)² + (i+1−7)²) / (2·3.25²)).
  static let kernel: [Float] = (0..<169).map { idx in
    let (i, j) = (idx / 13, idx % 13)
    let dx = Double(j + 1 - 7) / (0.25 * 13), dy = Double(i + 1 - 7) / (0.25 * 13)
    return Float(exp(-(dx * dx / 2 + dy * dy / 2)))
  }

  /// [faces.count, L, size, size] heatmaps for `landmarks[f]` (image pixels) in `frames[f]`.
  public static func render(
    landmarks: [[SIMD2<Double>]], frames: [FANCropFrame], size: Int = FAN.heatmapSize, placement: Placement = .truncated
  ) -> Tensor {
    precondition(landmarks.count == frames.count, "FANTargetHeatmaps: \(landmarks.count) faces, \(frames.count) frames")
    let count = landmarks.first?.count ?? FAN.landmarkCount
    precondition(landmarks.allSatisfy { $0.count == count }, "FANTargetHeatmaps: faces with different landmark counts")
    return Tensor(shape: [landmarks.count, count, size, size]) { out in
      for (f, points) in landmarks.enumerated() {
        for (k, point) in points.enumerated() {
          let plane = UnsafeMutableBufferPointer(rebasing: out[((f * count + k) * size * size)...])
          switch placement {
          case .truncated:
            let at = heatmapPixel(point, frame: frames[f], resolution: size)
            draw(into: plane, size: size, x: at.x + 1, y: at.y + 1)
          case .exact:
            let c = frames[f].cropPoint(point + 1, resolution: Double(size))
            drawExact(into: plane, size: size, center: c - 0.5)
          }
        }
      }
    }
  }

  /// Landmarks given directly in pixels of FAN's 256² input crop.
  public static func render(cropLandmarks: [[SIMD2<Double>]], size: Int = FAN.heatmapSize, placement: Placement = .truncated) -> Tensor {
    render(landmarks: cropLandmarks, frames: Array(repeating: .identity(size: FAN.inputSize), count: cropLandmarks.count),
           size: size, placement: placement)
  }

  /// The kernel centred at `center` (0-based heatmap pixels, sub-pixel) over the 13 pixels each
  /// way it spans, added and capped at 1 like `draw`.
  static func drawExact(into image: UnsafeMutableBufferPointer<Float>, size: Int, center: SIMD2<Double>) {
    guard center.x.isFinite && center.y.isFinite else { return }
    let reach = 6.5
    let x0 = max(0, Int((center.x - reach).rounded(.up))), x1 = min(size - 1, Int((center.x + reach).rounded(.down)))
    let y0 = max(0, Int((center.y - reach).rounded(.up))), y1 = min(size - 1, Int((center.y + reach).rounded(.down)))
    guard x0 <= x1 && y0 <= y1 else { return }
    let scale = -1 / (2 * sigma * sigma)
    for iy in y0...y1 {
      let dy = Double(iy) - center.y
      for ix in x0...x1 {
        let dx = Double(ix) - center.x
        let v = image[iy * size + ix] + Float(exp((dx * dx + dy * dy) * scale))
        image[iy * size + ix] = min(v, 1)
      }
    }
  }

  /// The package's `transform(point + 1, center, scale, resolution)`: a float32 affine map, then
  /// truncation toward zero (`.int()`).
  static func heatmapPixel(_ point: SIMD2<Double>, frame: FANCropFrame, resolution: Int) -> (x: Int, y: Int) {
    let h = 200 * frame.scale
    let res = Double(resolution)
    let a = Float(res / h)
    let bx = Float(res * (-frame.center.x / h + 0.5)), by = Float(res * (-frame.center.y / h + 0.5))
    let px = Float(point.x + 1), py = Float(point.y + 1)
    let x = a * px + 0 * py + bx, y = 0 * px + a * py + by
    return (Int(x.rounded(.towardZero)), Int(y.rounded(.towardZero)))
  }

  /// `draw_gaussian(image, (x, y), 2)` on one size×size heatmap, with its 1-based index arithmetic.
  static func draw(into image: UnsafeMutableBufferPointer<Float>, size: Int, x: Int, y: Int) {
    let ul = (x - 6, y - 6), br = (x + 6, y + 6)
    if ul.0 > size || ul.1 > size || br.0 < 1 || br.1 < 1 { return }
    let gx0 = max(1, -ul.0), gy0 = max(1, -ul.1)
    let imgX = (max(1, ul.0), min(br.0, size)), imgY = (max(1, ul.1), min(br.1, size))
    kernel.withUnsafeBufferPointer { g in
      for (row, iy) in ((imgY.0 - 1)..<imgY.1).enumerated() {
        let gi = gy0 - 1 + row
        guard gi < 13 else { break }
        for (col, ix) in ((imgX.0 - 1)..<imgX.1).enumerated() {
          let gj = gx0 - 1 + col
          guard gj < 13 else { break }
          let v = image[iy * size + ix] + g[gi * 13 + gj]
          image[iy * size + ix] = min(v, 1)
        }
      }
    }
  }
}
