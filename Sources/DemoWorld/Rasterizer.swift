import Foundation

/// Coverage-based polygon rasterization for the face renderer: each pixel's coverage is the
/// exact horizontal overlap of the polygon's spans on `subrows` sub-scanlines per pixel row
/// (nonzero winding), so edges are anti-aliased with no per-pixel point-in-polygon tests.
/// Pixel (i, j) covers [i − ½, i + ½] × [j − ½, j + ½].
struct Rasterizer {
  let width: Int
  let height: Int
  let subrows: Int
  /// Scratch coverage planes, reused across polygons.
  var planes: [[Float]]
  private var crossings: [(x: Float, winding: Int)] = []

  /// A pixel rectangle, inclusive.
  struct Box {
    var x0: Int, x1: Int, y0: Int, y1: Int
    func intersection(_ o: Box) -> Box? {
      let b = Box(x0: max(x0, o.x0), x1: min(x1, o.x1), y0: max(y0, o.y0), y1: min(y1, o.y1))
      return b.x0 <= b.x1 && b.y0 <= b.y1 ? b : nil
    }
  }

  init(width: Int, height: Int, subrows: Int = 4, planes: Int = 2) {
    self.width = width
    self.height = height
    self.subrows = subrows
    self.planes = Array(repeating: [Float](repeating: 0, count: width * height), count: planes)
    crossings.reserveCapacity(32)
  }

  /// Fills plane `plane` with the polygon's coverage (0…1) inside the returned box, which is
  /// nil when the polygon misses the image. Values outside the box are stale.
  mutating func cover(_ polygon: [SIMD2<Float>], plane: Int) -> Box? {
    guard polygon.count >= 3 else { return nil }
    var minX = Float.infinity, maxX = -Float.infinity, minY = Float.infinity, maxY = -Float.infinity
    for p in polygon {
      minX = min(minX, p.x); maxX = max(maxX, p.x); minY = min(minY, p.y); maxY = max(maxY, p.y)
    }
    guard minX.isFinite, maxX.isFinite, minY.isFinite, maxY.isFinite else { return nil }
    // Shift so that pixel i spans [i, i + 1].
    let box = Box(x0: max(0, Int((minX + 0.5).rounded(.down))), x1: min(width - 1, Int((maxX + 0.5).rounded(.down))),
                  y0: max(0, Int((minY + 0.5).rounded(.down))), y1: min(height - 1, Int((maxY + 0.5).rounded(.down))))
    guard box.x0 <= box.x1, box.y0 <= box.y1 else { return nil }
    let n = polygon.count, sub = Float(subrows), weight = 1 / sub
    let left = Float(box.x0), right = Float(box.x1 + 1)
    let w = width
    planes[plane].withUnsafeMutableBufferPointer { buf in
      for y in box.y0...box.y1 {
        let row = y * w
        for x in box.x0...box.x1 { buf[row + x] = 0 }
        for s in 0..<subrows {
          let sy = Float(y) + (Float(s) + 0.5) / sub - 0.5  // in landmark coordinates
          crossings.removeAll(keepingCapacity: true)
          var j = n - 1
          for i in 0..<n {
            let a = polygon[j], b = polygon[i]
            if (a.y <= sy) != (b.y <= sy) {
              let t = (sy - a.y) / (b.y - a.y)
              crossings.append((a.x + t * (b.x - a.x) + 0.5, b.y > a.y ? 1 : -1))
            }
            j = i
          }
          if crossings.count < 2 { continue }
          // Insertion sort: a handful of crossings per line.
          for i in 1..<crossings.count {
            let c = crossings[i]
            var k = i - 1
            while k >= 0 && crossings[k].x > c.x { crossings[k + 1] = crossings[k]; k -= 1 }
            crossings[k + 1] = c
          }
          var winding = 0
          for i in 0..<(crossings.count - 1) {
            winding += crossings[i].winding
            guard winding != 0 else { continue }
            let a = max(left, crossings[i].x), b = min(right, crossings[i + 1].x)
            guard b > a else { continue }
            let ia = Int(a), ib = Int(b)
            if ia == ib {
              buf[row + ia] += (b - a) * weight
            } else {
              buf[row + ia] += (Float(ia + 1) - a) * weight
              if ia + 1 < ib { for x in (ia + 1)..<ib { buf[row + x] += weight } }
              if ib <= box.x1 { buf[row + ib] += (b - Float(ib)) * weight }
            }
          }
        }
        for x in box.x0...box.x1 { buf[row + x] = min(1, buf[row + x]) }
      }
    }
    return box
  }
}

/// Smooth curves through points (centripetal-free, uniform Catmull-Rom), so the drawn outlines
/// pass exactly through the landmarks they are made from.
enum Curves {
  /// An open curve through `points` with `steps` segments between neighbours (ends included).
  static func open(_ points: [SIMD2<Float>], steps: Int) -> [SIMD2<Float>] {
    guard points.count >= 2 else { return points }
    var out: [SIMD2<Float>] = []
    out.reserveCapacity((points.count - 1) * steps + 1)
    for i in 0..<(points.count - 1) {
      let p0 = points[max(0, i - 1)], p1 = points[i], p2 = points[i + 1], p3 = points[min(points.count - 1, i + 2)]
      for k in 0..<steps { out.append(point(p0, p1, p2, p3, Float(k) / Float(steps))) }
    }
    out.append(points[points.count - 1])
    return out
  }

  /// A closed curve through `points`.
  static func closed(_ points: [SIMD2<Float>], steps: Int) -> [SIMD2<Float>] {
    let n = points.count
    guard n >= 3 else { return points }
    var out: [SIMD2<Float>] = []
    out.reserveCapacity(n * steps)
    for i in 0..<n {
      let p0 = points[(i + n - 1) % n], p1 = points[i], p2 = points[(i + 1) % n], p3 = points[(i + 2) % n]
      for k in 0..<steps { out.append(point(p0, p1, p2, p3, Float(k) / Float(steps))) }
    }
    return out
  }

  @inline(__always)
  static func point(_ p0: SIMD2<Float>, _ p1: SIMD2<Float>, _ p2: SIMD2<Float>, _ p3: SIMD2<Float>, _ t: Float) -> SIMD2<Float> {
    let t2 = t * t, t3 = t2 * t
    let a = 2 * p1, b = p2 - p0, c = 2 * p0 - 5 * p1 + 4 * p2 - p3, d = 3 * p1 - p0 - 3 * p2 + p3
    return 0.5 * (a + b * t + c * t2 + d * t3)
  }

  /// The outline of a stroke along `points` whose half-width at fraction u of its length is
  /// `halfWidth(u)`.
  static func stroke(_ points: [SIMD2<Float>], halfWidth: (Float) -> Float) -> [SIMD2<Float>] {
    let n = points.count
    guard n >= 2 else { return [] }
    var leftSide: [SIMD2<Float>] = [], rightSide: [SIMD2<Float>] = []
    for i in 0..<n {
      let a = points[max(0, i - 1)], b = points[min(n - 1, i + 1)]
      var d = b - a
      let length = (d * d).sum().squareRoot()
      d = length > 1e-6 ? d / length : SIMD2(1, 0)
      let normal = SIMD2(-d.y, d.x) * halfWidth(Float(i) / Float(n - 1))
      leftSide.append(points[i] + normal)
      rightSide.append(points[i] - normal)
    }
    return leftSide + rightSide.reversed()
  }

  static func ellipse(_ center: SIMD2<Float>, _ radii: SIMD2<Float>, angle: Float = 0, count: Int = 20) -> [SIMD2<Float>] {
    let (c, s) = (cos(angle), sin(angle))
    return (0..<count).map { k in
      let a = 2 * Float.pi * Float(k) / Float(count)
      let l = SIMD2(radii.x * cos(a), radii.y * sin(a))
      return center + SIMD2(c * l.x - s * l.y, s * l.x + c * l.y)
    }
  }
}
