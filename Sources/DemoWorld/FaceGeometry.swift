import Foundation

/// The curves of a face in image pixels: the 68 landmarks (iBUG-68 order) and the outlines the
/// renderer needs beyond them (skull, hairline, ears, neck). Built in a 3-D face frame (x right,
/// y down, z towards the camera), turned by the pose's pitch, yaw and roll, and projected
/// orthographically. Pixel centres are at integer coordinates: pixel (i, j) covers
/// [i − ½, i + ½] × [j − ½, j + ½].
public struct FaceGeometry: Sendable {
  /// The 68 landmarks: jaw 0–16, brows 17–26, nose 27–35, eyes 36–47, mouth 48–67.
  public var landmarks: [SIMD2<Float>]
  /// The skull's outline above the ear line, from landmark 0's side over the top to 16's.
  var skull: [SIMD2<Float>]
  /// The hair: a mass behind the head and a part in front of the forehead (empty when bald).
  var hairBack: [SIMD2<Float>]
  var hairFront: [SIMD2<Float>]
  var ears: [[SIMD2<Float>]]
  var neck: [SIMD2<Float>]
  var shoulders: [SIMD2<Float>]
  /// Pixels per face unit.
  var unit: Float
  /// The face's centre (between the eyes and the mouth) in pixels.
  var faceCenter: SIMD2<Float>

  typealias P3 = SIMD3<Float>

  public init(_ face: FaceParameters, width: Int, height: Int) {
    let id = face.identity, ex = face.expression, mouth = ex.mouth
    let pose = face.pose
    let unit = pose.scale * Float(min(width, height))
    let origin = SIMD2(pose.center.x * Float(width), pose.center.y * Float(height))
    let (cy, sy) = (cos(pose.yaw), sin(pose.yaw)), (cp, sp) = (cos(pose.pitch), sin(pose.pitch))
    let (cr, sr) = (cos(pose.roll), sin(pose.roll))
    func project(_ p: P3) -> SIMD2<Float> {
      // Pitch about x, yaw about y (both about the head's centre, behind the face), roll in the image.
      let q = p - P3(0, 0, -0.6)
      let y1 = q.y * cp - q.z * sp, z1 = q.y * sp + q.z * cp
      let x2 = q.x * cy + z1 * sy
      return origin + unit * SIMD2(cr * x2 - sr * y1, sr * x2 + cr * y1)
    }

    let open = max(0, min(1.2, mouth.open)), round = max(0, min(1, mouth.rounding))
    let smile = max(-1, min(1, mouth.smile)), spread = max(-1, min(1, mouth.width))
    var p = [P3]()
    p.reserveCapacity(68)
    // Jaw 0–16: from the right ear line (image left) round the chin; the chin drops with the mouth.
    let jawTop: Float = -0.1
    for i in 0...16 {
      let phi = Float.pi * Float(i) / 16
      let c = cos(phi), s = sin(phi)
      let x = -id.faceWidth * (c < 0 ? -1 : 1) * pow(abs(c), id.jawSquareness)
      let drop = 0.14 * open * pow(s, 4)
      p.append(P3(x * (1 - 0.12 * s * s), jawTop + (id.jawLength - jawTop) * s + drop, 0.45 * s * s))
    }
    // Brows 17–21 (image left, outside in) and 22–26 (inside out).
    let raise = 0.07 * max(-1, min(1, ex.browRaise)), inner = 0.05 * max(-1, min(1, ex.browInner))
    for side: Float in [-1, 1] {
      for j in 0..<5 {
        let u = Float(side < 0 ? j : 4 - j) / 4  // 0 outer end … 1 inner end
        let x = side * (id.eyeSpacing + 0.28 - 0.56 * u * 0.95)
        let y = -0.55 - id.browArch * sin(Float.pi * (0.2 + 0.8 * (1 - u))) - raise - inner * u * u
        p.append(P3(x, y, 0.45 + 0.1 * u))
      }
    }
    // Nose 27–30 down the bridge to the tip, 31–35 the nostril base left to right.
    let bridgeTop: Float = -0.33
    for j in 0..<4 {
      let t = Float(j) / 3
      p.append(P3(0, bridgeTop + (id.noseTip - bridgeTop) * t, 0.55 + 0.45 * t))
    }
    for j in 0..<5 {
      let u = Float(j - 2) / 2
      p.append(P3(id.noseWidth * u, id.noseTip + 0.1 + (j == 2 ? 0.025 : 0) - 0.02 * abs(u), 0.85 - 0.15 * abs(u)))
    }
    // Eyes 36–41 (image left: outer corner, two upper, inner corner, two lower) and 42–47.
    for side: Float in [-1, 1] {
      let openness = max(0, min(1.3, side < 0 ? ex.eyeOpenLeft : ex.eyeOpenRight))
      let centre = P3(side * id.eyeSpacing, -0.33, 0.45)
      let w = id.eyeSize, upper = 0.62 * w * openness, lower = 0.32 * w * openness
      let base: Float = 0.015  // a closed eye's lid line sits a little below the centre
      let corners = [centre + P3(-w, base, -0.03), centre + P3(w, base, -0.03)]
      let tops = [centre + P3(-w / 3, base - upper * 0.95, 0), centre + P3(w / 3, base - upper, 0)]
      let bottoms = [centre + P3(w / 3, base + lower, 0), centre + P3(-w / 3, base + lower * 0.95, 0)]
      p += [corners[0], tops[0], tops[1], corners[1], bottoms[0], bottoms[1]]
    }
    // Mouth 48–67. The lips meet on a line whose corners lift with the smile; opening lowers
    // the lower lip (and the jaw) and lifts the upper lip a little; rounding narrows the
    // mouth, thickens and pushes the lips forward and rounds the opening.
    let half = id.mouthWidth * (1 + 0.22 * spread - 0.32 * round + 0.08 * max(0, smile))
    let gap = 0.26 * open, lip = id.lipThickness * (1 + 0.5 * round)
    let cornerLift = -0.06 * smile
    let my = id.mouthHeight, mz: Float = 0.72
    func seam(_ u: Float) -> Float { my + cornerLift * (1 - sin(Float.pi * u)) }  // u: 0 left corner … 1 right corner
    func z(_ u: Float) -> Float { mz + (0.08 + 0.12 * round) * sin(Float.pi * u) }
    let innerHalf = half * (0.82 - 0.3 * round)
    let bow: [Float] = [0.75, 1.0, 0.82, 1.0, 0.75]
    p.append(P3(-half, seam(0), z(0) - 0.02))  // 48
    for j in 1...5 {  // 49–53 upper outer
      let u = Float(j) / 6
      p.append(P3(-half + 2 * half * u, seam(u) - 0.2 * gap * sin(Float.pi * u) - lip * bow[j - 1] * (0.6 + 0.4 * sin(Float.pi * u)), z(u)))
    }
    p.append(P3(half, seam(1), z(1) - 0.02))  // 54
    for j in 1...5 {  // 55–59 lower outer, right to left
      let u = 1 - Float(j) / 6
      p.append(P3(-half + 2 * half * u, seam(u) + 0.8 * gap * sin(Float.pi * u) + 1.25 * lip * (0.45 + 0.55 * sin(Float.pi * u)), z(u)))
    }
    func innerX(_ u: Float) -> Float { -innerHalf + 2 * innerHalf * u }
    func innerSeam(_ u: Float) -> Float { my + cornerLift * 0.85 * (1 - sin(Float.pi * (0.5 + (u - 0.5) * innerHalf / half))) }
    let roundness = 0.5 + 0.5 * round  // how far the opening's shape departs from a slit towards an ellipse
    p.append(P3(-innerHalf, innerSeam(0), z(0.1)))  // 60
    for j in 1...3 {  // 61–63 upper inner
      let u = Float(j) / 4, s = pow(sin(Float.pi * u), roundness)
      p.append(P3(innerX(u), innerSeam(u) - 0.2 * gap * s, z(u)))
    }
    p.append(P3(innerHalf, innerSeam(1), z(0.9)))  // 64
    for j in 1...3 {  // 65–67 lower inner, right to left
      let u = 1 - Float(j) / 4, s = pow(sin(Float.pi * u), roundness)
      p.append(P3(innerX(u), innerSeam(u) + 0.8 * gap * s, z(u)))
    }
    landmarks = p.map(project)

    // Beyond the landmarks: the skull from the jaw's top ends over the head.
    let skullRadius = SIMD2(id.faceWidth * 1.0, id.foreheadHeight)
    let skull3 = (0...16).map { k -> P3 in
      let a = Float.pi * Float(k) / 16
      return P3(-skullRadius.x * cos(a), jawTop - (skullRadius.y - jawTop * 0) * sin(a), 0.3 * sin(a))
    }
    skull = skull3.map(project)
    switch id.hairStyle {
    case .bald:
      hairBack = []
      hairFront = []
    case .short, .fringe, .long:
      let grow: Float = id.hairStyle == .long ? 0.16 : 0.09
      var back = (0...16).map { k -> P3 in
        let a = Float.pi * Float(k) / 16
        return P3(-(skullRadius.x + grow) * cos(a), jawTop - (skullRadius.y + grow) * sin(a), -0.1)
      }
      if id.hairStyle == .long {
        let x = skullRadius.x + grow
        back = [P3(-x * 1.02, 1.15, -0.3)] + back + [P3(x * 1.02, 1.15, -0.3), P3(x * 0.5, 1.25, -0.3), P3(-x * 0.5, 1.25, -0.3)]
      } else {
        back = [P3(-(skullRadius.x + grow) * 0.98, 0.25, -0.3)] + back + [P3((skullRadius.x + grow) * 0.98, 0.25, -0.3)]
      }
      hairBack = back.map(project)
      // The front: the skull's top down to a hairline (low and ragged for a fringe, higher
      // in the middle than at the temples otherwise).
      let fringe = id.hairStyle == .fringe
      let hairline: Float = fringe ? -0.72 : -0.9, dip: Float = fringe ? 0.06 : 0.3
      func hairlineY(_ x: Float) -> Float {
        let u = x / skullRadius.x
        return hairline + dip * u * u + (fringe ? 0.025 * sin(19 * u) : 0)
      }
      let arc = (0...32).map { k -> P3 in
        let a = Float.pi * Float(k) / 32
        return P3(-(skullRadius.x + 0.02) * cos(a), jawTop - (skullRadius.y + 0.02) * sin(a), 0.3 * sin(a))
      }.filter { $0.y < hairlineY($0.x) }
      var front = arc
      if let first = arc.first, let last = arc.last {
        for k in 0...8 {  // back along the hairline, right to left
          let x = last.x + (first.x - last.x) * Float(k) / 8
          front.append(P3(x, hairlineY(x), 0.5))
        }
      }
      hairFront = front.map(project)
    }
    // Ears beside the jaw's top, behind the face's plane.
    ears = [-1, 1].map { (side: Float) in
      (0..<12).map { k -> P3 in
        let a = 2 * Float.pi * Float(k) / 12
        return P3(side * (id.faceWidth + 0.02 + 0.06 * cos(a)), 0.0 + 0.2 * sin(a), -0.35)
      }.map(project)
    }
    let neckHalf = id.faceWidth * 0.48
    neck = [P3(-neckHalf, 0.4, -0.4), P3(neckHalf, 0.4, -0.4), P3(neckHalf * 1.05, 2.2, -0.4), P3(-neckHalf * 1.05, 2.2, -0.4)].map(project)
    let shoulderY = id.jawLength + 0.55
    shoulders = [P3(-neckHalf, shoulderY - 0.1, -0.5), P3(neckHalf, shoulderY - 0.1, -0.5), P3(2.6, shoulderY + 0.5, -0.5),
                 P3(3.2, 4, -0.5), P3(-3.2, 4, -0.5), P3(-2.6, shoulderY + 0.5, -0.5)].map(project)
    self.unit = unit
    faceCenter = project(P3(0, 0.1, 0.5))
  }
}
