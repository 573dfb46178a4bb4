import Foundation
import Media
import Tensors

/// The face-parsing classes of BiSeNet (the CelebAMask-HQ model's numbering) that the
/// rendered masks use.
public enum FaceClass: UInt8, Sendable, CaseIterable {
  case background = 0, skin = 1, leftBrow = 2, rightBrow = 3, leftEye = 4, rightEye = 5, glasses = 6,
       leftEar = 7, rightEar = 8, earring = 9, nose = 10, mouth = 11, upperLip = 12, lowerLip = 13,
       neck = 14, necklace = 15, cloth = 16, hair = 17, hat = 18
}

/// One rendered face: the picture (planar RGB in 0…1), the 68 landmarks the drawing was made
/// from, and the face-parsing mask (`FaceClass` raw values; a pixel takes the class of the
/// topmost part that covers at least half of it).
public struct RenderedFace: Sendable {
  public var width: Int
  public var height: Int
  /// 3 · height · width floats, channel planes R, G, B, rows top to bottom.
  public var rgb: [Float]
  /// iBUG-68 order, pixels (pixel centres at integer coordinates).
  public var landmarks: [SIMD2<Float>]
  /// height · width class numbers.
  public var mask: [UInt8]

  public var image: RGBImage {
    let plane = width * height
    var bytes = [UInt8](repeating: 0, count: plane * 3)
    for i in 0..<plane {
      for c in 0..<3 { bytes[3 * i + c] = UInt8(max(0, min(255, (rgb[c * plane + i] * 255).rounded()))) }
    }
    return RGBImage(width: width, height: height, pixels: bytes)
  }

  /// [1, 3, H, W] in 0…1.
  public var tensor: Tensor { Tensor(rgb, shape: [1, 3, height, width]) }

  /// Pixels of class `c`.
  public func count(_ c: FaceClass) -> Int { mask.reduce(0) { $0 + ($1 == c.rawValue ? 1 : 0) } }
}

/// Renders faces from `FaceParameters`: the geometry's 68 landmarks are drawn as smooth curves
/// (Catmull-Rom through the points) and filled with coverage anti-aliasing, over a backdrop,
/// shoulders, neck, hair and ears. Not thread-safe (it reuses scratch buffers): use one
/// renderer per thread.
public struct ProceduralFaceRenderer {
  public let width: Int
  public let height: Int
  private var raster: Rasterizer
  private var rgb: [Float]
  private var mask: [UInt8]

  public init(width: Int, height: Int) {
    precondition(width >= 16 && height >= 16, "ProceduralFaceRenderer needs at least 16×16 pixels, got \(width)×\(height)")
    self.width = width
    self.height = height
    raster = Rasterizer(width: width, height: height, subrows: 4, planes: 2)
    rgb = [Float](repeating: 0, count: 3 * width * height)
    mask = [UInt8](repeating: 0, count: width * height)
  }

  /// Draws the face. The landmarks are those of `FaceGeometry(face, width:, height:)`.
  public mutating func render(_ face: FaceParameters) -> RenderedFace {
    let geometry = FaceGeometry(face, width: width, height: height)
    draw(face, geometry)
    return RenderedFace(width: width, height: height, rgb: rgb, landmarks: geometry.landmarks, mask: mask)
  }

  /// Draws the face into caller-owned storage (for batches): `rgb` 3·H·W floats, `mask` H·W
  /// floats (class numbers), `landmarks` 136 floats (x, y per point).
  public mutating func render(_ face: FaceParameters, rgb out: UnsafeMutableBufferPointer<Float>,
                              mask maskOut: UnsafeMutableBufferPointer<Float>, landmarks pointsOut: UnsafeMutableBufferPointer<Float>) {
    let geometry = FaceGeometry(face, width: width, height: height)
    draw(face, geometry)
    rgb.withUnsafeBufferPointer { src in _ = out.update(fromContentsOf: src) }
    mask.withUnsafeBufferPointer { src in for i in 0..<src.count { maskOut[i] = Float(src[i]) } }
    for (k, p) in geometry.landmarks.enumerated() {
      pointsOut[2 * k] = p.x
      pointsOut[2 * k + 1] = p.y
    }
  }

  // MARK: drawing

  /// How a layer is coloured at a pixel.
  private enum Paint {
    case flat(SIMD3<Float>)
    /// Darker away from `center` (radius in pixels): colour · (1 − depth · r²).
    case shaded(SIMD3<Float>, center: SIMD2<Float>, radius: Float, depth: Float)
  }

  private mutating func draw(_ face: FaceParameters, _ g: FaceGeometry) {
    let id = face.identity, ex = face.expression
    let L = g.landmarks
    let unit = g.unit
    // Curve subdivision: about 2 px per segment.
    let steps = max(2, min(8, Int((unit * 0.12).rounded())))
    drawBackdrop(id.background)

    fill(g.shoulders, .shaded(id.clothes, center: g.faceCenter + SIMD2(0, unit * 2.5), radius: unit * 3, depth: 0.25), .cloth)
    if !g.hairBack.isEmpty { fill(Curves.closed(g.hairBack, steps: 2), .flat(id.hair * 0.8), .hair) }
    fill(g.neck, .shaded(id.skin * 0.82, center: g.faceCenter, radius: unit * 2.2, depth: 0.3), .neck)
    for (k, ear) in g.ears.enumerated() {
      fill(Curves.closed(ear, steps: 2), .flat(id.skin * 0.9), k == 0 ? .leftEar : .rightEar)
    }
    // The face: jaw landmarks, then the skull back over the top.
    let jaw = Curves.open(Array(L[0...16]), steps: steps)
    let skull = Array(g.skull.reversed().dropFirst().dropLast())
    fill(jaw + skull, .shaded(id.skin, center: g.faceCenter, radius: unit * 1.6, depth: 0.35), .skin)
    if !g.hairFront.isEmpty { fill(g.hairFront, .shaded(id.hair, center: g.faceCenter, radius: unit * 2, depth: 0.3), .hair) }

    // Nose: a soft shade over the region (bridge to nostrils), nostrils, a shadow on the bridge.
    let noseHalf = unit * 0.07
    let noseRegion = [L[27] - SIMD2(noseHalf, 0)] + Curves.open(Array(L[31...35]), steps: 2) + [L[27] + SIMD2(noseHalf, 0)]
    fill(noseRegion, .flat(id.skin * 0.86), .nose, opacity: 0.45)
    for k in [32, 34] {
      let c = L[k] * 0.7 + L[33] * 0.3 + SIMD2(0, -unit * 0.025)
      fill(Curves.ellipse(c, SIMD2(unit * 0.035, unit * 0.02), count: 10), .flat(id.skin * 0.35), nil, opacity: 0.8)
    }
    stroke(Array(L[27...30]).map { $0 + SIMD2(unit * 0.03, 0) }, halfWidth: { _ in unit * 0.012 }, .flat(id.skin * 0.7), opacity: 0.5)

    // Brows: tapered strokes along their landmarks.
    for (k, range) in [17...21, 22...26].enumerated() {
      let line = Curves.open(Array(L[range]), steps: steps)
      let t = id.browThickness * unit
      let innerFirst = k == 1
      fill(Curves.stroke(line, halfWidth: { u in
        let fromInner = innerFirst ? u : 1 - u
        return t * (0.65 - 0.35 * fromInner) + 0.3
      }), .flat(id.hair * 0.9), k == 0 ? .leftBrow : .rightBrow)
    }

    // Eyes: white, iris and pupil clipped to the opening, the upper lid line.
    for (k, base) in [36, 42].enumerated() {
      let eye = Curves.closed(Array(L[base..<(base + 6)]), steps: steps)
      guard let eyeBox = raster.cover(eye, plane: 0) else { continue }
      paint(plane: 0, box: eyeBox, .flat(SIMD3(0.95, 0.94, 0.92)), k == 0 ? .leftEye : .rightEye)
      let corners = (L[base], L[base + 3])
      let center = (corners.0 + corners.1) / 2
      let halfWidth = ((corners.1 - corners.0) * (corners.1 - corners.0)).sum().squareRoot() / 2
      let gaze = SIMD2(ex.gaze.x * halfWidth * 0.4, ex.gaze.y * halfWidth * 0.2)
      let irisCenter = center + gaze + SIMD2(0, -halfWidth * 0.05)
      if let b = raster.cover(Curves.ellipse(irisCenter, SIMD2(repeating: halfWidth * 0.48), count: 16), plane: 1),
         let box = b.intersection(eyeBox) {
        paintProduct(box: box, .flat(id.iris), nil)
      }
      if let b = raster.cover(Curves.ellipse(irisCenter, SIMD2(repeating: halfWidth * 0.2), count: 12), plane: 1),
         let box = b.intersection(eyeBox) {
        paintProduct(box: box, .flat(SIMD3(0.05, 0.04, 0.04)), nil)
      }
      let lid = Curves.open(Array(L[base...(base + 3)]), steps: steps)
      stroke(lid, halfWidth: { u in unit * 0.018 * (0.4 + 0.6 * sin(Float.pi * u)) + 0.2 }, .flat(id.hair * 0.5), opacity: 0.9)
    }

    // Mouth: upper lip (outer upper 48–54, inner upper 64–60), lower lip, then the opening
    // (inner 60–67) with the upper teeth.
    let outerUpper = Curves.open(Array(L[48...54]), steps: steps)
    let outerLower = Curves.open([L[54]] + Array(L[55...59]) + [L[48]], steps: steps)
    let innerUpper = Curves.open(Array(L[60...64]), steps: steps)
    let innerLower = Curves.open([L[64]] + Array(L[65...67]) + [L[60]], steps: steps)
    fill(outerUpper + innerUpper.reversed(), .flat(id.lips * 0.92), .upperLip)
    fill(outerLower + innerLower.reversed(), .flat(id.lips), .lowerLip)
    if let mouthBox = raster.cover(innerUpper + innerLower.dropFirst().dropLast(), plane: 0) {
      paint(plane: 0, box: mouthBox, .flat(SIMD3(0.3, 0.08, 0.1)), .mouth)
      let teethDepth = unit * 0.07
      let teeth = innerUpper + innerUpper.reversed().map { $0 + SIMD2(0, teethDepth) }
      if let b = raster.cover(teeth, plane: 1), let box = b.intersection(mouthBox) {
        paintProduct(box: box, .flat(SIMD3(0.92, 0.9, 0.85)), nil)
      }
    }
    // The lips' meeting line, visible when the mouth is closed.
    stroke(innerUpper, halfWidth: { u in unit * 0.012 * sin(Float.pi * (0.15 + 0.7 * u)) + 0.15 },
           .flat(id.lips * 0.45), opacity: 0.8)
  }

  private mutating func drawBackdrop(_ b: Backdrop) {
    let plane = width * height, side = Float(min(width, height))
    let dx = sin(b.angle) / Float(width), dy = cos(b.angle) / Float(height)
    let lo = min(0, dx * Float(width - 1)) + min(0, dy * Float(height - 1))
    let hi = max(0, dx * Float(width - 1)) + max(0, dy * Float(height - 1))
    let span = max(hi - lo, 1e-6)
    rgb.withUnsafeMutableBufferPointer { out in
      for y in 0..<height {
        for x in 0..<width {
          let t = (dx * Float(x) + dy * Float(y) - lo) / span
          let c = b.top + (b.bottom - b.top) * t
          let i = y * width + x
          out[i] = c.x; out[plane + i] = c.y; out[2 * plane + i] = c.z
        }
      }
    }
    mask.withUnsafeMutableBufferPointer { m in m.update(repeating: FaceClass.background.rawValue) }
    for disc in b.discs {
      let c = SIMD2(disc.center.x * Float(width), disc.center.y * Float(height))
      fill(Curves.ellipse(c, SIMD2(repeating: disc.radius * side), count: 24), .flat(disc.color), nil, opacity: disc.opacity)
    }
  }

  private mutating func fill(_ polygon: [SIMD2<Float>], _ paint: Paint, _ label: FaceClass?, opacity: Float = 1) {
    guard let box = raster.cover(polygon, plane: 0) else { return }
    self.paint(plane: 0, box: box, paint, label, opacity: opacity)
  }

  private mutating func stroke(_ line: [SIMD2<Float>], halfWidth: (Float) -> Float, _ paint: Paint, opacity: Float) {
    fill(Curves.stroke(line, halfWidth: halfWidth), paint, nil, opacity: opacity)
  }

  /// Blends the colour in by coverage · opacity; the label goes where coverage ≥ ½.
  private mutating func paint(plane: Int, box: Rasterizer.Box, _ paint: Paint, _ label: FaceClass?, opacity: Float = 1) {
    let w = width, planeSize = width * height
    raster.planes[plane].withUnsafeBufferPointer { cov in
      rgb.withUnsafeMutableBufferPointer { out in
        mask.withUnsafeMutableBufferPointer { m in
          for y in box.y0...box.y1 {
            for x in box.x0...box.x1 {
              let i = y * w + x
              let c = cov[i]
              if c <= 0 { continue }
              if let label, c >= 0.5 { m[i] = label.rawValue }
              let a = c * opacity
              let color = Self.color(paint, x, y)
              out[i] += (color.x - out[i]) * a
              out[planeSize + i] += (color.y - out[planeSize + i]) * a
              out[2 * planeSize + i] += (color.z - out[2 * planeSize + i]) * a
            }
          }
        }
      }
    }
  }

  /// Paints with coverage plane 0 × plane 1 (a shape clipped to another).
  private mutating func paintProduct(box: Rasterizer.Box, _ paint: Paint, _ label: FaceClass?) {
    let w = width
    raster.planes[0].withUnsafeBufferPointer { clip in
      raster.planes[1].withUnsafeMutableBufferPointer { cov in
        for y in box.y0...box.y1 { for x in box.x0...box.x1 { cov[y * w + x] *= clip[y * w + x] } }
      }
    }
    // Plane 0 must survive (the caller clips several shapes to it): paint from plane 1.
    self.paint(plane: 1, box: box, paint, label)
  }

  @inline(__always)
  private static func color(_ paint: Paint, _ x: Int, _ y: Int) -> SIMD3<Float> {
    switch paint {
    case .flat(let c): return c
    case .shaded(let c, let center, let radius, let depth):
      let d = (SIMD2(Float(x), Float(y)) - center) / radius
      return c * max(0.3, 1 - depth * (d * d).sum())
    }
  }
}

/// Batches of random faces for training: images [N, 3, H, W] in 0…1, landmarks [N, 68, 2] in
/// pixels, masks [N, H, W] (class numbers as floats). The same seed gives the same batch.
public struct FaceBatch: Sendable {
  public var images: Tensor
  public var landmarks: Tensor
  public var masks: Tensor
  public var parameters: [FaceParameters]

  /// Draws `count` faces from `sampler` and renders them, split over `threads` threads.
  public static func make(count: Int, width: Int, height: Int, sampler: inout FaceSampler, threads: Int = 1) -> FaceBatch {
    let faces = (0..<count).map { _ in sampler.next() }
    return render(faces, width: width, height: height, threads: threads)
  }

  public static func render(_ faces: [FaceParameters], width: Int, height: Int, threads: Int = 1) -> FaceBatch {
    let count = faces.count, plane = width * height
    var images = [Float](repeating: 0, count: count * 3 * plane)
    var masks = [Float](repeating: 0, count: count * plane)
    var points = [Float](repeating: 0, count: count * 136)
    let chunks = max(1, min(threads, count))
    images.withUnsafeMutableBufferPointer { img in
      masks.withUnsafeMutableBufferPointer { msk in
        points.withUnsafeMutableBufferPointer { pts in
          nonisolated(unsafe) let img = img
          nonisolated(unsafe) let msk = msk
          nonisolated(unsafe) let pts = pts
          DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            var renderer = ProceduralFaceRenderer(width: width, height: height)
            for n in stride(from: chunk, to: count, by: chunks) {
              renderer.render(faces[n], rgb: UnsafeMutableBufferPointer(rebasing: img[(n * 3 * plane)..<((n + 1) * 3 * plane)]),
                              mask: UnsafeMutableBufferPointer(rebasing: msk[(n * plane)..<((n + 1) * plane)]),
                              landmarks: UnsafeMutableBufferPointer(rebasing: pts[(n * 136)..<((n + 1) * 136)]))
            }
          }
        }
      }
    }
    return FaceBatch(images: Tensor(images, shape: [count, 3, height, width]),
                     landmarks: Tensor(points, shape: [count, 68, 2]),
                     masks: Tensor(masks, shape: [count, height, width]),
                     parameters: faces)
  }
}
