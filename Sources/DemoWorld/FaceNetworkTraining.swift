import Dubbing
import Foundation
import Media
import Networks
import Tensors

/// Reduced FAN and BiSeNet networks trained on the demo world's rendered faces, and their
/// measurement on held-out renders. Every face is drawn on a full 256² frame (the demo clips'
/// size) and cropped the way the product crops: the aligned crop (`FaceQuad(landmarks:)` →
/// `FaceCrop`) that the generator renders and L_fan reads, and face-alignment's crop from a face
/// box (`FANCropFrame(box:)`) that landmark measurement on whole frames reads. Deterministic for
/// a seed.
public enum DemoWorldTraining {
  /// The side of the frames faces are rendered on.
  public static let frameSize = 256

  /// The two kinds of crop the FAN reads in the product.
  public enum FANCrop: String, Sendable, CaseIterable {
    /// The aligned face crop (the generator's view), resized to the FAN's input.
    case aligned
    /// face-alignment's crop around a face box (here the landmarks' bounding box, as the
    /// tracker and `FaceBoxLandmarks` make it).
    case box
  }

  /// One training step's report.
  public struct Progress: Sendable {
    public var step: Int
    public var steps: Int
    public var loss: Float
    /// Since training started.
    public var seconds: Double
  }

  // MARK: Faces

  /// The faces the networks learn from: `FaceSampler`'s (identities, poses, blinks) with the
  /// head size spread a little wider than the clips' and the mouth drawn over its whole range
  /// (opening, width, rounding and smile each uniform, with closed and unrounded mouths
  /// frequent), since the mouth is what the demo measures.
  public struct TrainingFaces {
    var sampler: FaceSampler

    public init(seed: UInt64) { sampler = FaceSampler(seed: seed, scaleRange: 0.2...0.32, centerJitter: 0.06) }

    public mutating func next() -> FaceParameters {
      var face = sampler.next()
      let closed = sampler.uniform(0...1) < 0.2, plain = sampler.uniform(0...1) < 0.35
      face.expression.mouth = MouthShape(open: closed ? 0 : sampler.uniform(0...1), width: sampler.uniform(-1...1),
                                         rounding: plain ? 0 : sampler.uniform(0...1), smile: sampler.uniform(-1...1))
      return face
    }
  }

  static func points(_ face: RenderedFace) -> [SIMD2<Double>] {
    face.landmarks.map { SIMD2(Double($0.x), Double($0.y)) }
  }

  /// The bounding box of landmarks.
  static func box(around points: [SIMD2<Double>]) -> FaceBox {
    FaceBox(x1: points.map(\.x).min()!, y1: points.map(\.y).min()!, x2: points.map(\.x).max()!, y2: points.map(\.y).max()!)
  }

  static func uniform(_ range: ClosedRange<Double>, _ rng: inout SeededGenerator) -> Double { Double.random(in: range, using: &rng) }

  /// The aligned quad, moved as the clip's temporal smoothing moves it off a frame's own quad
  /// (a few percent of shift, scale and turn) when `rng` is given.
  static func alignedQuad(_ points: [SIMD2<Double>], rng: inout SeededGenerator?) -> FaceQuad {
    var quad = FaceQuad(landmarks: FaceLandmarks(points))
    guard var r = rng else { return quad }
    defer { rng = r }
    let side = quad.side
    quad.center += SIMD2(uniform(-0.03...0.03, &r), uniform(-0.03...0.03, &r)) * side
    let scale = 1 + uniform(-0.04...0.04, &r), angle = uniform(-0.04...0.04, &r)
    func turn(_ v: SIMD2<Double>) -> SIMD2<Double> {
      SIMD2(v.x * cos(angle) - v.y * sin(angle), v.x * sin(angle) + v.y * cos(angle)) * scale
    }
    quad.x = turn(quad.x)
    quad.y = turn(quad.y)
    return quad
  }

  /// The landmarks' box with each side moved by up to 5 % of the box (another frame's
  /// landmarks, or a detector, give a slightly different box) when `rng` is given.
  static func faceBox(_ points: [SIMD2<Double>], rng: inout SeededGenerator?) -> FaceBox {
    var b = Self.box(around: points)
    guard var r = rng else { return b }
    defer { rng = r }
    let (w, h) = (b.x2 - b.x1, b.y2 - b.y1)
    b.x1 += w * uniform(-0.05...0.05, &r); b.x2 += w * uniform(-0.05...0.05, &r)
    b.y1 += h * uniform(-0.05...0.05, &r); b.y2 += h * uniform(-0.05...0.05, &r)
    return b
  }

  // MARK: FAN

  /// One FAN example: the [1, 3, S, S] crop and its [1, 68, S/4, S/4] target heatmaps. With
  /// `rng`, aligned crops are perturbed and half of them are taken at half the size and
  /// resized up (L_fan reads the generator's output resized to S), and boxes are perturbed.
  static func fanExample(_ face: RenderedFace, crop kind: FANCrop, inputSize s: Int, rng: inout SeededGenerator?)
    -> (image: Tensor, target: Tensor) {
    let truth = Self.points(face), image = face.image
    switch kind {
    case .aligned:
      let quad = alignedQuad(truth, rng: &rng)
      var size = s
      if var r = rng {
        if Bool.random(using: &r) { size = max(32, s / 2) }
        rng = r
      }
      let crop = FaceCrop(quad: quad, size: size)
      var pixels = crop.crop(image)
      if size != s { pixels = pixels.resizeBilinear(to: (s, s), alignCorners: false) }
      let cropPoints = truth.map { (crop.toCrop($0) + 0.5) * (Double(s) / Double(size)) - 0.5 }
      return (pixels, FANTrainer.alignedTargets(cropLandmarks: [cropPoints], inputSize: s))
    case .box:
      let frame = FANCropFrame(box: faceBox(truth, rng: &rng))
      let pixels = FANLandmarkEstimator.crop(frame: frame, size: s).crop(image)
      return (pixels, FANTrainer.frameTargets(landmarks: [truth], frames: [frame], inputSize: s))
    }
  }

  /// A FAN trained from scratch on demo-world faces, half aligned crops and half box crops per
  /// batch, `steps` Adam steps of `batchSize` fresh faces with a cosine learning-rate decay.
  /// `width` is the hourglass trunk's channels (256 published), `inputSize` the crop side (the
  /// heatmaps are a quarter of it); `foregroundWeight` weights the MSE up where the targets are
  /// (`FANTrainer.loss`). The returned network is frozen (no parameter trains).
  public static func trainFAN(width: Int = 32, modules: Int = 1, inputSize: Int = 128, steps: Int, batchSize: Int = 8,
                              learningRate: Float = 3e-3, foregroundWeight: Float = 20, seed: UInt64,
                              progress: ((Progress) -> Void)? = nil) -> FAN {
    precondition(steps >= 1 && batchSize >= 2, "trainFAN: needs at least 1 step and 2 faces per batch")
    let fan = FAN(modules: modules, width: width, inputSize: inputSize)
    fan.initializeForTraining(seed: seed)
    var trainer = FANTrainer(network: fan, learningRate: learningRate)
    trainer.foregroundWeight = foregroundWeight
    var faces = TrainingFaces(seed: seed)
    var rng: SeededGenerator? = SeededGenerator(seed: seed &+ 0x5eed)
    var renderer = ProceduralFaceRenderer(width: frameSize, height: frameSize)
    let start = Date()
    for step in 0..<steps {
      trainer.optimizer.learningRate = cosine(learningRate, step: step, steps: steps)
      var images: [Tensor] = [], targets: [Tensor] = []
      for i in 0..<batchSize {
        let example = fanExample(renderer.render(faces.next()), crop: i % 2 == 0 ? .aligned : .box, inputSize: inputSize, rng: &rng)
        images.append(example.image)
        targets.append(example.target)
      }
      let loss = trainer.step(images: Tensor.concat(images, axis: 0), targets: Tensor.concat(targets, axis: 0))
      progress?(Progress(step: step + 1, steps: steps, loss: loss, seconds: Date().timeIntervalSince(start)))
    }
    fan.parameters.forEach { $0.requiresGradient = false }
    return fan
  }

  /// Learning rate decayed from `base` to a tenth along a half cosine.
  static func cosine(_ base: Float, step: Int, steps: Int) -> Float {
    let t = steps > 1 ? Double(step) / Double(steps - 1) : 0
    return base * Float(0.1 + 0.9 * 0.5 * (1 + cos(Double.pi * t)))
  }

  /// Landmark error in frame pixels (256² frames).
  public struct LandmarkError: Sendable, CustomStringConvertible {
    /// Mean distance over the 68 landmarks, averaged over faces.
    public var all: Double
    /// Mean distance over the mouth (48–67), averaged over faces.
    public var mouth: Double
    /// The mouth points' mean offset (measured − true): the part of `mouth` a comparison
    /// between two clips measured the same way cancels.
    public var mouthBias: SIMD2<Double>
    /// The mouth's error after removing that mean offset.
    public var mouthUnbiased: Double
    public var faces: Int

    public var description: String {
      String(format: "all %.2f px, mouth %.2f px (mean offset %.2f, %.2f; without it %.2f px) over %d faces",
             all, mouth, mouthBias.x, mouthBias.y, mouthUnbiased, faces)
    }
  }

  public struct FANEvaluation: Sendable, CustomStringConvertible {
    public var aligned: LandmarkError
    public var box: LandmarkError
    public var description: String { "aligned crops: \(aligned); box crops: \(box)" }
  }

  /// Measures `fan` on `faces` held-out renders (faces from `seed`, which training seeds should
  /// not share): landmarks decoded with `FANLandmarks.decode` (`refinement`) from the aligned crop (mapped back
  /// through the crop) and from the landmarks' box crop (`FANLandmarkEstimator`), against the
  /// landmarks the faces were drawn from.
  public static func evaluateFAN(_ fan: FAN, faces count: Int = 100, seed: UInt64 = 0xE7A1,
                                 refinement: FANLandmarks.Refinement = .subpixel) -> FANEvaluation {
    var faces = TrainingFaces(seed: seed)
    var renderer = ProceduralFaceRenderer(width: frameSize, height: frameSize)
    let estimator = FANLandmarkEstimator(network: fan, refinement: refinement)
    var measured: [FANCrop: [(truth: [SIMD2<Double>], found: [SIMD2<Double>])]] = [:]
    for _ in 0..<count {
      let face = renderer.render(faces.next())
      let truth = points(face)
      let crop = FaceCrop(quad: FaceQuad(landmarks: FaceLandmarks(truth)), size: fan.inputSize)
      let decoded = FANLandmarks.decode(fan.heatmaps(crop.crop(face.image)), refinement: refinement)[0]
      let aligned = decoded.heatmapPoints.map { crop.toFrame(SIMD2(Double($0.x), Double($0.y)) * 4) }
      measured[.aligned, default: []].append((truth, aligned))
      let boxed = estimator.landmarks(in: face.image, frame: FANCropFrame(box: box(around: truth))).points
      measured[.box, default: []].append((truth, boxed))
    }
    func error(_ pairs: [(truth: [SIMD2<Double>], found: [SIMD2<Double>])]) -> LandmarkError {
      func distance(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double { ((a - b) * (a - b)).sum().squareRoot() }
      let mouth = 48..<68
      var all = 0.0, mouthSum = 0.0, offset = SIMD2<Double>.zero
      for (truth, found) in pairs {
        all += zip(truth, found).map(distance).reduce(0, +) / Double(truth.count)
        mouthSum += mouth.map { distance(truth[$0], found[$0]) }.reduce(0, +) / Double(mouth.count)
        offset += mouth.map { found[$0] - truth[$0] }.reduce(.zero, +) / Double(mouth.count)
      }
      let n = Double(max(pairs.count, 1))
      offset /= n
      var unbiased = 0.0
      for (truth, found) in pairs {
        unbiased += mouth.map { distance(truth[$0] + offset, found[$0]) }.reduce(0, +) / Double(mouth.count)
      }
      return LandmarkError(all: all / n, mouth: mouthSum / n, mouthBias: offset, mouthUnbiased: unbiased / n, faces: pairs.count)
    }
    return FANEvaluation(aligned: error(measured[.aligned] ?? []), box: error(measured[.box] ?? []))
  }

  // MARK: BiSeNet

  /// One parsing example: the [1, 3, S, S] aligned crop (perturbed with `rng`) and its class
  /// labels (the rendered mask sampled at the nearest frame pixel; outside the frame, background).
  static func parsingExample(_ face: RenderedFace, inputSize s: Int, rng: inout SeededGenerator?) -> (image: Tensor, labels: [Int]) {
    let crop = FaceCrop(quad: alignedQuad(points(face), rng: &rng), size: s)
    var labels = [Int](repeating: FaceClass.background.rawValue.int, count: s * s)
    for v in 0..<s {
      for u in 0..<s {
        let p = crop.toFrame(SIMD2(Double(u), Double(v)))
        let (x, y) = (Int(p.x.rounded()), Int(p.y.rounded()))
        if x >= 0 && y >= 0 && x < face.width && y < face.height { labels[v * s + u] = Int(face.mask[y * face.width + x]) }
      }
    }
    return (crop.crop(face.image), labels)
  }

  /// A BiSeNet (19 classes, the rendered masks' numbering) trained from scratch on aligned
  /// crops of `inputSize` (the generator's resolution: the stitching stage parses its renders),
  /// `steps` Adam steps of `batchSize` fresh faces, cosine decay. `width` is the ResNet stem's
  /// channels (64 published). The returned network is frozen.
  public static func trainBiSeNet(width: Int = 16, inputSize: Int = 64, steps: Int, batchSize: Int = 8,
                                  learningRate: Float = 2e-3, seed: UInt64, progress: ((Progress) -> Void)? = nil) -> BiSeNet {
    precondition(steps >= 1 && batchSize >= 2, "trainBiSeNet: needs at least 1 step and 2 faces per batch")
    let network = BiSeNet(classes: FaceClass.allCases.count, width: width, inputSize: inputSize)
    network.initializeForTraining(seed: seed)
    var trainer = BiSeNetTrainer(network: network, learningRate: learningRate)
    var faces = TrainingFaces(seed: seed)
    var rng: SeededGenerator? = SeededGenerator(seed: seed &+ 0xB15E)
    var renderer = ProceduralFaceRenderer(width: frameSize, height: frameSize)
    let start = Date()
    for step in 0..<steps {
      trainer.optimizer.learningRate = cosine(learningRate, step: step, steps: steps)
      var images: [Tensor] = [], labels: [Int] = []
      for _ in 0..<batchSize {
        let example = parsingExample(renderer.render(faces.next()), inputSize: inputSize, rng: &rng)
        images.append(example.image)
        labels += example.labels
      }
      let loss = trainer.step(images: Tensor.concat(images, axis: 0), labels: labels)
      progress?(Progress(step: step + 1, steps: steps, loss: loss, seconds: Date().timeIntervalSince(start)))
    }
    network.parameters.forEach { $0.requiresGradient = false }
    return network
  }

  /// Face-mask IoU (BiSeNet's default face classes, the ones stitching uses) of `network` on
  /// `faces` held-out aligned crops at the network's input size (`size` when it has none).
  public static func evaluateBiSeNet(_ network: BiSeNet, size: Int = 64, faces count: Int = 64, seed: UInt64 = 0xE7A1) -> Double {
    let s = network.inputSize ?? size
    var faces = TrainingFaces(seed: seed)
    var renderer = ProceduralFaceRenderer(width: frameSize, height: frameSize)
    var none: SeededGenerator?
    var images: [Tensor] = [], labels: [Int] = []
    for _ in 0..<count {
      let example = parsingExample(renderer.render(faces.next()), inputSize: s, rng: &none)
      images.append(example.image)
      labels += example.labels
    }
    let logits = network.logits(BiSeNet.normalize(rgb01: Tensor.concat(images, axis: 0)))
    return BiSeNetTrainer.maskIoU(logits: logits, labels: labels)
  }

  /// Safetensors metadata for a network trained here (with the network's own `metadata`).
  public static func checkpointMetadata(steps: Int, batchSize: Int, seed: UInt64) -> [String: String] {
    ["trained_on": "redub demo world (procedural faces, 256² frames)", "training_steps": String(steps),
     "training_batch": String(batchSize), "training_seed": String(seed), "format": "redub.reduced-network.v1"]
  }
}

private extension UInt8 {
  var int: Int { Int(self) }
}
