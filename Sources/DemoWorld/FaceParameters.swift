import Foundation
import Tensors

/// What a speaker looks like: face shape, proportions, colours, hair and backdrop. Shape values
/// are in face units (the face's half-width is about 0.9, the eyes sit at y ≈ −0.33, the chin
/// at y ≈ 1.1, y down); colours are linear 0…1 RGB.
public struct FaceIdentity: Sendable, Equatable, Codable {
  /// Half-width of the face at the cheekbones.
  public var faceWidth: Float
  /// Depth of the chin below the ear line.
  public var jawLength: Float
  /// Jaw exponent: 1 a round jaw, lower values a squarer one.
  public var jawSquareness: Float
  /// Height of the skull above the ear line.
  public var foreheadHeight: Float
  public var eyeSpacing: Float
  /// Half-width of an eye.
  public var eyeSize: Float
  public var browThickness: Float
  /// Arch of the brows (how much their middle rises).
  public var browArch: Float
  /// Height of the nose tip (y of landmark 30).
  public var noseTip: Float
  /// Half-width of the nostril base.
  public var noseWidth: Float
  /// Half-width of the mouth at rest.
  public var mouthWidth: Float
  /// y of the lips' meeting line at rest.
  public var mouthHeight: Float
  public var lipThickness: Float
  public var skin: SIMD3<Float>
  public var hair: SIMD3<Float>
  public var iris: SIMD3<Float>
  public var lips: SIMD3<Float>
  public var clothes: SIMD3<Float>
  public var hairStyle: HairStyle
  public var background: Backdrop

  public enum HairStyle: String, Sendable, Codable, CaseIterable {
    /// Hair over the top of the skull only.
    case short
    /// A fringe low over the forehead.
    case fringe
    /// Hair falling beside the face to the shoulders.
    case long
    /// No hair.
    case bald
  }

  public init(faceWidth: Float = 0.9, jawLength: Float = 1.1, jawSquareness: Float = 0.85, foreheadHeight: Float = 1.05,
              eyeSpacing: Float = 0.4, eyeSize: Float = 0.13, browThickness: Float = 0.06, browArch: Float = 0.07,
              noseTip: Float = 0.05, noseWidth: Float = 0.18, mouthWidth: Float = 0.32, mouthHeight: Float = 0.5,
              lipThickness: Float = 0.07, skin: SIMD3<Float> = [0.93, 0.76, 0.62], hair: SIMD3<Float> = [0.25, 0.15, 0.08],
              iris: SIMD3<Float> = [0.2, 0.35, 0.5], lips: SIMD3<Float> = [0.75, 0.35, 0.35],
              clothes: SIMD3<Float> = [0.2, 0.3, 0.55], hairStyle: HairStyle = .short, background: Backdrop = Backdrop()) {
    self.faceWidth = faceWidth; self.jawLength = jawLength; self.jawSquareness = jawSquareness
    self.foreheadHeight = foreheadHeight; self.eyeSpacing = eyeSpacing; self.eyeSize = eyeSize
    self.browThickness = browThickness; self.browArch = browArch; self.noseTip = noseTip; self.noseWidth = noseWidth
    self.mouthWidth = mouthWidth; self.mouthHeight = mouthHeight; self.lipThickness = lipThickness
    self.skin = skin; self.hair = hair; self.iris = iris; self.lips = lips; self.clothes = clothes
    self.hairStyle = hairStyle; self.background = background
  }
}

/// The backdrop behind the head: a linear gradient at an angle and a few soft discs.
public struct Backdrop: Sendable, Equatable, Codable {
  public var top: SIMD3<Float>
  public var bottom: SIMD3<Float>
  /// Direction of the gradient, radians from vertical.
  public var angle: Float
  public var discs: [Disc]

  public struct Disc: Sendable, Equatable, Codable {
    /// Centre in image fractions (0…1 across the shorter side from the top-left corner).
    public var center: SIMD2<Float>
    /// Radius as a fraction of the image's shorter side.
    public var radius: Float
    public var color: SIMD3<Float>
    public var opacity: Float
    public init(center: SIMD2<Float>, radius: Float, color: SIMD3<Float>, opacity: Float) {
      self.center = center; self.radius = radius; self.color = color; self.opacity = opacity
    }
  }

  public init(top: SIMD3<Float> = [0.25, 0.3, 0.45], bottom: SIMD3<Float> = [0.45, 0.4, 0.35], angle: Float = 0, discs: [Disc] = []) {
    self.top = top; self.bottom = bottom; self.angle = angle; self.discs = discs
  }
}

/// Where the head is in the picture.
public struct HeadPose: Sendable, Equatable, Codable {
  /// Image position of the face's origin (the bridge of the nose, a little above the nose tip),
  /// as fractions of the width and height.
  public var center: SIMD2<Float>
  /// Pixels per face unit divided by the image's shorter side; about 0.28 frames a face like
  /// an FFHQ crop (forehead to chin fill ~70 % of the height).
  public var scale: Float
  /// In-plane rotation, radians, clockwise on screen.
  public var roll: Float
  /// Turn left/right, radians (a little: |yaw| ≲ 0.35).
  public var yaw: Float
  /// Nod up/down, radians (a little: |pitch| ≲ 0.2).
  public var pitch: Float

  public init(center: SIMD2<Float> = [0.5, 0.5], scale: Float = 0.28, roll: Float = 0, yaw: Float = 0, pitch: Float = 0) {
    self.center = center; self.scale = scale; self.roll = roll; self.yaw = yaw; self.pitch = pitch
  }
}

/// The mouth's articulation: the viseme track's output and the renderer's input.
public struct MouthShape: Sendable, Equatable, Codable {
  /// 0 lips together … 1 wide open (jaw dropped).
  public var open: Float
  /// −1 narrow … 0 rest … 1 spread.
  public var width: Float
  /// 0 … 1 lips pushed forward into an O (narrows the corners, rounds the opening).
  public var rounding: Float
  /// −1 corners down … 1 corners up.
  public var smile: Float

  public init(open: Float = 0, width: Float = 0, rounding: Float = 0, smile: Float = 0) {
    self.open = open; self.width = width; self.rounding = rounding; self.smile = smile
  }

  public static let rest = MouthShape()
}

/// Everything that moves on a face: eyes, brows and mouth.
public struct FaceExpression: Sendable, Equatable, Codable {
  /// 0 closed … 1 open … 1.3 wide (left and right in the image).
  public var eyeOpenLeft: Float
  public var eyeOpenRight: Float
  /// −1 lowered (frown) … 1 raised.
  public var browRaise: Float
  /// Inner brow ends: −1 pulled down (anger) … 1 pulled up (sadness).
  public var browInner: Float
  public var mouth: MouthShape
  /// Where the irises look, fractions of the eye's half-width / half-height.
  public var gaze: SIMD2<Float>

  public init(eyeOpenLeft: Float = 1, eyeOpenRight: Float = 1, browRaise: Float = 0, browInner: Float = 0,
              mouth: MouthShape = .rest, gaze: SIMD2<Float> = .zero) {
    self.eyeOpenLeft = eyeOpenLeft; self.eyeOpenRight = eyeOpenRight; self.browRaise = browRaise
    self.browInner = browInner; self.mouth = mouth; self.gaze = gaze
  }
}

/// A whole face: who, where, and how it moves.
public struct FaceParameters: Sendable, Equatable, Codable {
  public var identity: FaceIdentity
  public var pose: HeadPose
  public var expression: FaceExpression

  public init(identity: FaceIdentity = FaceIdentity(), pose: HeadPose = HeadPose(), expression: FaceExpression = FaceExpression()) {
    self.identity = identity; self.pose = pose; self.expression = expression
  }
}

/// Seeded random faces for training data: the same seed gives the same sequence of faces on
/// every machine. Draw whole faces with `next()`, or the three parts separately (a speaker's
/// identity once, then poses and expressions per frame).
public struct FaceSampler: Sendable {
  public var generator: SeededGenerator
  /// Range of `HeadPose.scale` drawn; the default frames faces as aligned crops with some slack.
  public var scaleRange: ClosedRange<Float>
  /// How far the face's origin strays from the image centre (fraction of the image).
  public var centerJitter: Float

  public init(seed: UInt64, scaleRange: ClosedRange<Float> = 0.24...0.32, centerJitter: Float = 0.06) {
    generator = SeededGenerator(seed: seed)
    self.scaleRange = scaleRange
    self.centerJitter = centerJitter
  }

  mutating func uniform(_ range: ClosedRange<Float>) -> Float { Float.random(in: range, using: &generator) }

  mutating func color(_ base: SIMD3<Float>, spread: Float) -> SIMD3<Float> {
    let c = base + SIMD3(uniform(-spread...spread), uniform(-spread...spread), uniform(-spread...spread))
    return c.clamped(lowerBound: .zero, upperBound: SIMD3(repeating: 1))
  }

  static let skinTones: [SIMD3<Float>] = [[0.96, 0.82, 0.70], [0.90, 0.72, 0.58], [0.78, 0.58, 0.42], [0.62, 0.43, 0.30],
                                          [0.45, 0.30, 0.20], [0.98, 0.86, 0.78]]
  static let hairColors: [SIMD3<Float>] = [[0.08, 0.06, 0.05], [0.25, 0.15, 0.08], [0.45, 0.28, 0.12], [0.80, 0.62, 0.35],
                                           [0.55, 0.20, 0.08], [0.60, 0.60, 0.62]]
  static let irisColors: [SIMD3<Float>] = [[0.20, 0.35, 0.55], [0.30, 0.20, 0.10], [0.25, 0.45, 0.30], [0.45, 0.35, 0.20]]

  public mutating func identity() -> FaceIdentity {
    let skin = color(Self.skinTones.randomElement(using: &generator)!, spread: 0.04)
    var lips = skin * SIMD3(0.85, 0.55, 0.55) + SIMD3(0.08, 0, 0)
    lips = color(lips, spread: 0.05)
    var discs: [Backdrop.Disc] = []
    for _ in 0..<Int.random(in: 0...3, using: &generator) {
      discs.append(.init(center: [uniform(0...1), uniform(0...1)], radius: uniform(0.08...0.35),
                         color: color([0.5, 0.5, 0.5], spread: 0.45), opacity: uniform(0.3...0.9)))
    }
    let backdrop = Backdrop(top: color([0.5, 0.5, 0.5], spread: 0.45), bottom: color([0.5, 0.5, 0.5], spread: 0.45),
                            angle: uniform(-1.2...1.2), discs: discs)
    return FaceIdentity(
      faceWidth: uniform(0.82...0.98), jawLength: uniform(1.0...1.2), jawSquareness: uniform(0.6...1.0),
      foreheadHeight: uniform(0.95...1.15), eyeSpacing: uniform(0.36...0.44), eyeSize: uniform(0.11...0.15),
      browThickness: uniform(0.04...0.08), browArch: uniform(0.03...0.1), noseTip: uniform(0.0...0.1),
      noseWidth: uniform(0.14...0.22), mouthWidth: uniform(0.27...0.36), mouthHeight: uniform(0.47...0.55),
      lipThickness: uniform(0.05...0.09), skin: skin, hair: color(Self.hairColors.randomElement(using: &generator)!, spread: 0.05),
      iris: color(Self.irisColors.randomElement(using: &generator)!, spread: 0.05), lips: lips,
      clothes: color([0.45, 0.45, 0.45], spread: 0.4), hairStyle: FaceIdentity.HairStyle.allCases.randomElement(using: &generator)!,
      background: backdrop)
  }

  public mutating func pose() -> HeadPose {
    HeadPose(center: [0.5 + uniform(-centerJitter...centerJitter), 0.5 + uniform(-centerJitter...centerJitter)],
             scale: uniform(scaleRange), roll: uniform(-0.25...0.25), yaw: uniform(-0.3...0.3), pitch: uniform(-0.15...0.15))
  }

  /// Expressions spread over what speech and emotion produce (with a blink now and then).
  public mutating func expression() -> FaceExpression {
    let blink = uniform(0...1) < 0.15
    let eyes = blink ? uniform(0...0.4) : uniform(0.7...1.2)
    return FaceExpression(
      eyeOpenLeft: eyes, eyeOpenRight: max(0, min(1.3, eyes + uniform(-0.05...0.05))),
      browRaise: uniform(-0.8...0.9), browInner: uniform(-0.6...0.6),
      mouth: MouthShape(open: uniform(0...1) < 0.25 ? 0 : uniform(0...1), width: uniform(-0.8...0.8),
                        rounding: uniform(0...1) < 0.5 ? 0 : uniform(0...1), smile: uniform(-0.8...1)),
      gaze: [uniform(-0.4...0.4), uniform(-0.3...0.3)])
  }

  public mutating func next() -> FaceParameters {
    FaceParameters(identity: identity(), pose: pose(), expression: expression())
  }
}

extension FaceParameters {
  /// Every number the face is drawn from, as one vector (identity, backdrop with up to three
  /// discs, pose, expression; the hair style one-hot): what a conditional generator is trained on.
  public var features: [Float] {
    let i = identity, b = i.background, p = pose, e = expression
    var v: [Float] = [i.faceWidth, i.jawLength, i.jawSquareness, i.foreheadHeight, i.eyeSpacing, i.eyeSize, i.browThickness,
                      i.browArch, i.noseTip, i.noseWidth, i.mouthWidth, i.mouthHeight, i.lipThickness]
    for color in [i.skin, i.hair, i.iris, i.lips, i.clothes, b.top, b.bottom] { v += [color.x, color.y, color.z] }
    v += FaceIdentity.HairStyle.allCases.map { $0 == i.hairStyle ? 1 : 0 }
    v += [cos(b.angle), sin(b.angle)]
    for k in 0..<Self.maximumDiscs {
      if k < b.discs.count {
        let d = b.discs[k]
        v += [1, d.center.x, d.center.y, d.radius, d.color.x, d.color.y, d.color.z, d.opacity]
      } else {
        v += [Float](repeating: 0, count: 8)
      }
    }
    v += [p.center.x, p.center.y, p.scale, p.roll, p.yaw, p.pitch]
    v += [e.eyeOpenLeft, e.eyeOpenRight, e.browRaise, e.browInner, e.mouth.open, e.mouth.width, e.mouth.rounding, e.mouth.smile,
          e.gaze.x, e.gaze.y]
    return v
  }

  static let maximumDiscs = 3

  /// The length of `features`.
  public static var featureCount: Int { FaceParameters().features.count }
}
