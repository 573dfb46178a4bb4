import Foundation

/// Separable filters on one float plane (row-major, `width` × `height`) for paste-back masks.
/// Outside the plane counts as 0, so erosion pulls a mask in from the plane's border.
enum MaskFilters {
  /// Maximum (dilate) or minimum (erode) over a (2r+1)² square, van Herk/Gil-Werman: three
  /// comparisons per pixel whatever the radius.
  static func morphology(_ plane: [Float], width: Int, height: Int, radius: Int, dilate: Bool) -> [Float] {
    guard radius > 0 else { return plane }
    var out = plane
    var line = [Float](), result = [Float]()
    // Rows.
    for y in 0..<height {
      line = Array(plane[(y * width)..<((y + 1) * width)])
      filterLine(line, radius: radius, dilate: dilate, into: &result)
      out.replaceSubrange((y * width)..<((y + 1) * width), with: result)
    }
    // Columns.
    var column = [Float](repeating: 0, count: height)
    for x in 0..<width {
      for y in 0..<height { column[y] = out[y * width + x] }
      filterLine(column, radius: radius, dilate: dilate, into: &result)
      for y in 0..<height { out[y * width + x] = result[y] }
    }
    return out
  }

  /// One line, padded with `radius` zeros at both ends.
  private static func filterLine(_ line: [Float], radius: Int, dilate: Bool, into out: inout [Float]) {
    let n = line.count, k = 2 * radius + 1
    let padded = n + 2 * radius
    let blocks = (padded + k - 1) / k
    let total = blocks * k
    var g = [Float](repeating: 0, count: total), h = [Float](repeating: 0, count: total)
    func value(_ i: Int) -> Float { i >= radius && i < radius + n ? line[i - radius] : 0 }
    let pick: (Float, Float) -> Float = dilate ? { max($0, $1) } : { min($0, $1) }
    for b in 0..<blocks {
      let start = b * k
      g[start] = value(start)
      for i in (start + 1)..<(start + k) { g[i] = pick(g[i - 1], value(i)) }
      h[start + k - 1] = value(start + k - 1)
      for i in stride(from: start + k - 2, through: start, by: -1) { h[i] = pick(h[i + 1], value(i)) }
    }
    // Window [i, i + k) in padded coordinates is output i.
    out = [Float](repeating: 0, count: n)
    for i in 0..<n { out[i] = pick(h[i], g[i + k - 1]) }
  }

  /// Gaussian blur with σ `sigma`, kernel radius ⌈3σ⌉, zeros outside.
  static func gaussianBlur(_ plane: [Float], width: Int, height: Int, sigma: Double) -> [Float] {
    guard sigma > 0 else { return plane }
    let radius = Int((3 * sigma).rounded(.up))
    var kernel = (-radius...radius).map { Float(exp(-0.5 * Double($0 * $0) / (sigma * sigma))) }
    let total = kernel.reduce(0, +)
    kernel = kernel.map { $0 / total }
    var temp = [Float](repeating: 0, count: plane.count)
    var out = [Float](repeating: 0, count: plane.count)
    plane.withUnsafeBufferPointer { src in
      temp.withUnsafeMutableBufferPointer { tmp in
        for y in 0..<height {
          for x in 0..<width {
            var sum: Float = 0
            for k in max(-radius, -x)...min(radius, width - 1 - x) { sum += kernel[k + radius] * src[y * width + x + k] }
            tmp[y * width + x] = sum
          }
        }
      }
    }
    temp.withUnsafeBufferPointer { tmp in
      out.withUnsafeMutableBufferPointer { dst in
        for y in 0..<height {
          let lo = max(-radius, -y), hi = min(radius, height - 1 - y)
          let row = dst.baseAddress! + y * width
          for k in lo...hi {
            let weight = kernel[k + radius], source = tmp.baseAddress! + (y + k) * width
            for x in 0..<width { row[x] += weight * source[x] }
          }
        }
      }
    }
    return out
  }
}
