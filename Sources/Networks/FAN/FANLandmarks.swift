import Foundation
import Tensors

/// One face's landmarks decoded from FAN heatmaps.
public struct FANLandmarks: Sendable, Equatable {
  /// (x, y) in heatmap pixels, as the package's `get_preds_fromhm` returns them (multiply by
  /// 4 for 256² crop pixels).
  public var heatmapPoints: [SIMD2<Float>]
  /// Each heatmap's maximum.
  public var scores: [Float]

  /// How a heatmap's maximum is refined.
  public enum Refinement: Sendable {
    /// face-alignment 1.5.0's: a quarter-pixel step toward the larger neighbour. Its points lie
    /// on a grid of a quarter heatmap pixel (1.5 frame pixels for the demo FAN's 32² heatmaps).
    case quarterPixel
    /// The centroid of the heatmap above half its maximum within 5 pixels of it: sub-pixel
    /// positions, exact for the targets' Gaussians (`FANTargetHeatmaps.Placement.exact`).
    case subpixel
  }

  /// Decodes every face of [N, L, H, W] heatmaps as face-alignment 1.5.0 does: the first
  /// maximum of each heatmap (1-based x, y), a quarter-pixel step toward the larger neighbour
  /// along each axis when the maximum is not on the border, then −0.5. With `.subpixel` the step
  /// is replaced by the centroid around the maximum (same coordinates).
  public static func decode(_ heatmaps: Tensor, refinement: Refinement = .quarterPixel) -> [FANLandmarks] {
    precondition(heatmaps.rank == 4 && heatmaps.shape[2] > 0 && heatmaps.shape[3] > 0,
                 "FANLandmarks.decode: heatmaps must be [N, L, H, W], got \(heatmaps.shape)")
    let (n, l, h, w) = (heatmaps.shape[0], heatmaps.shape[1], heatmaps.shape[2], heatmaps.shape[3])
    return heatmaps.withUnsafeBufferPointer { p in
      (0..<n).map { face in
        var points: [SIMD2<Float>] = [], scores: [Float] = []
        for k in 0..<l {
          let base = (face * l + k) * h * w
          func map(_ i: Int) -> Float { p[base + i] }
          var best = 0
          for i in 1..<(h * w) where map(i) > map(best) { best = i }
          scores.append(map(best))
          let px = best % w, py = best / w
          var point = SIMD2<Float>(Float(px + 1), Float(py + 1))
          if refinement == .subpixel {
            let peak = map(best), reach = 5
            var sum: Float = 0, moment = SIMD2<Float>.zero
            for y in max(0, py - reach)...min(h - 1, py + reach) {
              for x in max(0, px - reach)...min(w - 1, px + reach) {
                let weight = map(y * w + x) - peak / 2
                guard weight > 0 else { continue }
                sum += weight
                moment += weight * SIMD2(Float(x - px), Float(y - py))
              }
            }
            if sum > 0 && peak > 0 { point += moment / sum }
            points.append(point - 0.5)
            continue
          }
          // The package tests against 63, the last index of its 64² heatmaps.
          if px > 0 && px < 63 && py > 0 && py < 63 && px + 1 < w && py + 1 < h {
            let dx = map(py * w + px + 1) - map(py * w + px - 1)
            let dy = map((py + 1) * w + px) - map((py - 1) * w + px)
            point.x += sign(dx) * 0.25
            point.y += sign(dy) * 0.25
          }
          points.append(point - 0.5)
        }
        return FANLandmarks(heatmapPoints: points, scores: scores)
      }
    }
  }

  /// The points in image coordinates of `frame`, for heatmaps of `heatmapSize` pixels. With
  /// `truncated` the values are cut to integers as the package's `transform_np` does; without,
  /// they keep their sub-pixel precision.
  public func imagePoints(frame: FANCropFrame, heatmapSize: Int = FAN.heatmapSize, truncated: Bool = false) -> [SIMD2<Double>] {
    heatmapPoints.map { p in
      let q = frame.imagePoint(SIMD2(Double(p.x), Double(p.y)), resolution: Double(heatmapSize))
      return truncated ? SIMD2(q.x.rounded(.towardZero), q.y.rounded(.towardZero)) : q
    }
  }

  /// The points in pixels of the 256² crop the heatmaps came from (the package's `pts * 4`).
  public var cropPoints: [SIMD2<Float>] { heatmapPoints.map { $0 * 4 } }
}

@inline(__always) private func sign(_ v: Float) -> Float { v > 0 ? 1 : (v < 0 ? -1 : 0) }
