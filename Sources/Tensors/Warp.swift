// Perspective warps: bilinear resampling of an image through a 3×3 homography, and the
// homography algebra the face crop needs (fit from 4 points, invert, compose, apply).

import Foundation

/// A 3×3 projective transform of the plane, row-major; maps (x, y) to
/// ((m0·x + m1·y + m2) / w, (m3·x + m4·y + m5) / w) with w = m6·x + m7·y + m8.
public struct PerspectiveTransform: Sendable, Equatable, CustomStringConvertible {
  public var matrix: [Double]

  public init(matrix: [Double]) {
    precondition(matrix.count == 9, "PerspectiveTransform needs 9 values (row-major 3×3), got \(matrix.count)")
    self.matrix = matrix
  }

  public static let identity = PerspectiveTransform(matrix: [1, 0, 0, 0, 1, 0, 0, 0, 1])

  public static func translation(x: Double, y: Double) -> PerspectiveTransform {
    PerspectiveTransform(matrix: [1, 0, x, 0, 1, y, 0, 0, 1])
  }

  public static func scaling(x: Double, y: Double) -> PerspectiveTransform {
    PerspectiveTransform(matrix: [x, 0, 0, 0, y, 0, 0, 0, 1])
  }

  /// The transform taking each of 4 `source` points to the matching `destination` point, or nil
  /// when the points are degenerate (3 of them collinear). Solves the 8×8 linear system in
  /// double precision with partial pivoting; the result is normalized to m8 = 1.
  public init?(from source: [SIMD2<Double>], to destination: [SIMD2<Double>]) {
    precondition(source.count == 4 && destination.count == 4,
                 "PerspectiveTransform needs 4 point pairs, got \(source.count) and \(destination.count)")
    // Unknowns m0…m7; each pair gives  m0 x + m1 y + m2 − m6 x u − m7 y u = u  and the same for v.
    var system = [[Double]](repeating: [Double](repeating: 0, count: 9), count: 8)
    for k in 0..<4 {
      let (x, y) = (source[k].x, source[k].y)
      let (u, v) = (destination[k].x, destination[k].y)
      system[2 * k] = [x, y, 1, 0, 0, 0, -x * u, -y * u, u]
      system[2 * k + 1] = [0, 0, 0, x, y, 1, -x * v, -y * v, v]
    }
    guard let solution = Self.solve(&system) else { return nil }
    self.init(matrix: solution + [1])
  }

  /// Gaussian elimination with partial pivoting on an augmented n×(n+1) system.
  private static func solve(_ a: inout [[Double]]) -> [Double]? {
    let n = a.count
    let scale = a.flatMap { $0.dropLast() }.map(Swift.abs).max() ?? 0
    guard scale > 0 else { return nil }
    for col in 0..<n {
      let pivot = (col..<n).max { Swift.abs(a[$0][col]) < Swift.abs(a[$1][col]) }!
      guard Swift.abs(a[pivot][col]) > 1e-12 * scale else { return nil }
      a.swapAt(col, pivot)
      for row in (col + 1)..<n {
        let f = a[row][col] / a[col][col]
        if f == 0 { continue }
        for k in col...n { a[row][k] -= f * a[col][k] }
      }
    }
    var x = [Double](repeating: 0, count: n)
    for row in stride(from: n - 1, through: 0, by: -1) {
      var s = a[row][n]
      for k in (row + 1)..<n { s -= a[row][k] * x[k] }
      x[row] = s / a[row][row]
    }
    return x
  }

  /// The inverse transform, or nil when the matrix is singular.
  public var inverse: PerspectiveTransform? {
    let m = matrix
    // Adjugate over determinant.
    let c0 = m[4] * m[8] - m[5] * m[7], c1 = m[5] * m[6] - m[3] * m[8], c2 = m[3] * m[7] - m[4] * m[6]
    let det = m[0] * c0 + m[1] * c1 + m[2] * c2
    let size = m.map(Swift.abs).max() ?? 0
    guard det.isFinite, Swift.abs(det) > 1e-14 * size * size * size else { return nil }
    let adjugate = [
      c0, m[2] * m[7] - m[1] * m[8], m[1] * m[5] - m[2] * m[4],
      c1, m[0] * m[8] - m[2] * m[6], m[2] * m[3] - m[0] * m[5],
      c2, m[1] * m[6] - m[0] * m[7], m[0] * m[4] - m[1] * m[3],
    ]
    return PerspectiveTransform(matrix: adjugate.map { $0 / det })
  }

  /// `lhs ∘ rhs`: applies `rhs` first, then `lhs`.
  public static func * (lhs: PerspectiveTransform, rhs: PerspectiveTransform) -> PerspectiveTransform {
    var out = [Double](repeating: 0, count: 9)
    for i in 0..<3 {
      for j in 0..<3 {
        for k in 0..<3 { out[i * 3 + j] += lhs.matrix[i * 3 + k] * rhs.matrix[k * 3 + j] }
      }
    }
    return PerspectiveTransform(matrix: out)
  }

  /// The image of `point`; non-finite when the point maps to infinity (w = 0).
  public func apply(_ point: SIMD2<Double>) -> SIMD2<Double> {
    let m = matrix
    let w = m[6] * point.x + m[7] * point.y + m[8]
    return SIMD2((m[0] * point.x + m[1] * point.y + m[2]) / w, (m[3] * point.x + m[4] * point.y + m[5]) / w)
  }

  public var description: String {
    "PerspectiveTransform(" + matrix.map { String(format: "%.6g", $0) }.joined(separator: ", ") + ")"
  }
}

/// Where each output pixel of one warp samples: the top-left source pixel and the bilinear
/// fractions; `left == Int32.min` marks a pixel that maps to infinity.
struct WarpSamples {
  var left: [Int32], top: [Int32]
  var fractionX: [Float], fractionY: [Float]

  init(matrix m: [Double], height: Int, width: Int) {
    let count = height * width
    left = [Int32](repeating: Int32.min, count: count)
    top = [Int32](repeating: 0, count: count)
    fractionX = [Float](repeating: 0, count: count)
    fractionY = [Float](repeating: 0, count: count)
    for y in 0..<height {
      for x in 0..<width {
        let (px, py) = (Double(x), Double(y))
        let w = m[6] * px + m[7] * py + m[8]
        let sx = (m[0] * px + m[1] * py + m[2]) / w, sy = (m[3] * px + m[4] * py + m[5]) / w
        // Points far outside the image would overflow Int32; they sample nothing anyway.
        guard sx.isFinite, sy.isFinite, Swift.abs(sx) < 1e8, Swift.abs(sy) < 1e8 else { continue }
        let fx = sx.rounded(.down), fy = sy.rounded(.down)
        let i = y * width + x
        left[i] = Int32(fx)
        top[i] = Int32(fy)
        fractionX[i] = Float(sx - fx)
        fractionY[i] = Float(sy - fy)
      }
    }
  }
}

extension Tensor {
  /// Resamples [N, C, H, W] `image` onto an `outputSize` grid: output pixel (x, y) takes the
  /// bilinear interpolation of the input at `matrix · (x, y, 1)` (after the perspective divide).
  /// Pixel centers sit at integer coordinates; each of the 4 neighbours that falls outside the
  /// input contributes zero (so the image fades to zero over the one-pixel border band, as
  /// `grid_sample` with zeros padding and align_corners=True). Differentiable in `image`.
  public static func warpPerspective(_ image: Tensor, matrix: [Double], outputSize: (height: Int, width: Int)) -> Tensor {
    precondition(image.rank == 4, "warpPerspective: image must be [N, C, H, W], got \(image.shape)")
    return warpPerspective(image, matrices: [[Double]](repeating: matrix, count: image.shape[0]), outputSize: outputSize)
  }

  public static func warpPerspective(
    _ image: Tensor, transform: PerspectiveTransform, outputSize: (height: Int, width: Int)
  ) -> Tensor {
    warpPerspective(image, matrix: transform.matrix, outputSize: outputSize)
  }

  /// One matrix per batch sample.
  public static func warpPerspective(
    _ image: Tensor, matrices: [[Double]], outputSize: (height: Int, width: Int)
  ) -> Tensor {
    precondition(image.rank == 4, "warpPerspective: image must be [N, C, H, W], got \(image.shape)")
    let (n, c, h, w) = (image.shape[0], image.shape[1], image.shape[2], image.shape[3])
    precondition(matrices.count == n, "warpPerspective: \(matrices.count) matrices for a batch of \(n)")
    precondition(matrices.allSatisfy { $0.count == 9 }, "warpPerspective: each matrix needs 9 values (row-major 3×3)")
    let (ho, wo) = outputSize
    precondition(ho > 0 && wo > 0, "warpPerspective: empty output size \(outputSize)")
    var samples = [WarpSamples?](repeating: nil, count: n)
    samples.withUnsafeMutableBufferPointer { slots in
      Parallel.forEach(n) { s in slots[s] = WarpSamples(matrix: matrices[s], height: ho, width: wo) }
    }
    let plans = samples.map { $0! }
    let out = Tensor(uninitialized: [n, c, ho, wo])
    let src = image.base, dst = out.base
    let grain = Swift.max(1, 16_384 / Swift.max(1, ho * wo))
    Parallel.forRanges(n * c, grain: grain) { range in
      for plane in range {
        let p = plans[plane / c]
        let input = src + plane * h * w, output = dst + plane * ho * wo
        p.left.withUnsafeBufferPointer { left in p.top.withUnsafeBufferPointer { top in
        p.fractionX.withUnsafeBufferPointer { fxs in p.fractionY.withUnsafeBufferPointer { fys in
          for i in 0..<(ho * wo) {
            let x0 = Int(left[i]), y0 = Int(top[i])
            // Fast reject: no neighbour inside (also covers the "maps to infinity" marker).
            if x0 < -1 || x0 >= w || y0 < -1 || y0 >= h { output[i] = 0; continue }
            let fx = fxs[i], fy = fys[i]
            var v: Float = 0
            if y0 >= 0 {
              let row = input + y0 * w
              if x0 >= 0 { v += (1 - fx) * (1 - fy) * row[x0] }
              if x0 + 1 < w { v += fx * (1 - fy) * row[x0 + 1] }
            }
            if y0 + 1 < h {
              let row = input + (y0 + 1) * w
              if x0 >= 0 { v += (1 - fx) * fy * row[x0] }
              if x0 + 1 < w { v += fx * fy * row[x0 + 1] }
            }
            output[i] = v
          }
        } } } }
      }
    }
    let inputShape = image.shape
    return record(out, input: image) { g in
      let gx = Tensor(zeros: inputShape)
      let gsrc = g.base, gdst = gx.base
      Parallel.forRanges(n * c, grain: grain) { range in
        for plane in range {
          let p = plans[plane / c]
          let grad = gsrc + plane * ho * wo, input = gdst + plane * h * w
          p.left.withUnsafeBufferPointer { left in p.top.withUnsafeBufferPointer { top in
          p.fractionX.withUnsafeBufferPointer { fxs in p.fractionY.withUnsafeBufferPointer { fys in
            for i in 0..<(ho * wo) {
              let x0 = Int(left[i]), y0 = Int(top[i])
              if x0 < -1 || x0 >= w || y0 < -1 || y0 >= h { continue }
              let fx = fxs[i], fy = fys[i], gv = grad[i]
              if y0 >= 0 {
                let row = input + y0 * w
                if x0 >= 0 { row[x0] += (1 - fx) * (1 - fy) * gv }
                if x0 + 1 < w { row[x0 + 1] += fx * (1 - fy) * gv }
              }
              if y0 + 1 < h {
                let row = input + (y0 + 1) * w
                if x0 >= 0 { row[x0] += (1 - fx) * fy * gv }
                if x0 + 1 < w { row[x0 + 1] += fx * fy * gv }
              }
            }
          } } } }
        }
      }
      return gx
    }
  }
}
