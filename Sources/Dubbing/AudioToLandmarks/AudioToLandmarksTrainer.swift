import Foundation
import Networks
import Tensors

/// Trains the audio-to-landmark model in the method's order: (1) emotion/content
/// disentanglement by cross-reconstruction, (2) the pose alignment network, (3) the predictor
/// with the disentangler and the alignment frozen.
public struct AudioToLandmarksTrainer {
  public enum Stage: String, CaseIterable, Sendable, Codable { case disentangle, align, predict }

  public struct Settings: Sendable {
    public var epochs: [Stage: Int] = [.disentangle: 40, .align: 40, .predict: 40]
    /// Frames per training segment (disentangle and predict).
    public var segmentLength = 32
    public var batchSize = 8
    /// Landmark frames per alignment batch.
    public var alignmentBatch = 64
    public var learningRate: Float = 1e-3
    /// Size of the random affine warp of the pose-giving landmarks (alignment and predictor).
    public var warp = 0.02
    /// Size of the random affine warp of the speaker's reference face the predictor reads.
    public var referenceWarp = 0.005
    /// Weight of the loss through the frozen alignment network against the video's landmarks;
    /// the canonical-frame loss has weight 1.
    public var alignedLossWeight: Float = 0.25
    /// Weight of the predictor's frame-to-frame motion error (canonical frame): a plain
    /// squared error lets the prediction shrink toward the mean face, this one asks for the
    /// truth's motion amplitude too.
    public var velocityLossWeight: Float = 0
    public var seed: UInt64 = 7
    public init() {}
  }

  public struct EpochReport: Sendable {
    public var stage: Stage
    public var epoch: Int
    public var epochs: Int
    public var trainingLoss: Double
    public var validationLoss: Double?
    public var terms: [String: Double]
    /// Examples trained on: segments (disentangle, predict) or landmark frames (align).
    public var examples: Int
    public var seconds: Double
    public var unit: String { stage == .align ? "frames" : "segments" }
  }

  public let model: AudioToLandmarksModel
  public let dataset: AudioToLandmarksDataset
  public var settings: Settings
  private var random: SeededGenerator
  /// Each clip's standardized windows and whole-clip emotion code (after stage 1).
  private var standardized: [Tensor]

  public init(model: AudioToLandmarksModel, dataset: AudioToLandmarksDataset, settings: Settings = Settings()) throws {
    guard !dataset.training.isEmpty else { throw AudioToLandmarksError.dataset("the dataset has no training clips") }
    let unknown = Set(dataset.clips.map(\.emotion)).subtracting(model.configuration.emotions)
    guard unknown.isEmpty else {
      throw AudioToLandmarksError.dataset("emotions \(unknown.sorted()) are not among the model's \(model.configuration.emotions)")
    }
    self.model = model
    self.dataset = dataset
    self.settings = settings
    random = SeededGenerator(seed: settings.seed)
    standardized = []
  }

  /// Sets the MFCC standardization from the training clips (before stage 1).
  public mutating func fitStandardization() {
    let columns = model.configuration.windowColumns
    var sum = [Double](repeating: 0, count: columns), squares = sum
    var n = 0
    for clip in dataset.training {
      let v = clip.windows.scalars
      for (i, x) in v.enumerated() {
        sum[i % columns] += Double(x)
        squares[i % columns] += Double(x) * Double(x)
      }
      n += v.count / columns
    }
    let mean = sum.map { $0 / Double(max(n, 1)) }
    let deviation = zip(squares, mean).map { max(($0 / Double(max(n, 1)) - $1 * $1).squareRoot(), 1e-3) }
    model.windowMean.parameter.value = Tensor(mean.map(Float.init), shape: [columns])
    model.windowDeviation.parameter.value = Tensor(deviation.map(Float.init), shape: [columns])
  }

  /// Runs `stage` for its epochs from `startEpoch`, reporting each epoch and calling
  /// `checkpoint` after it. A `startEpoch` at or past the stage's epochs (a checkpoint from a
  /// longer run resumed with fewer epochs) trains nothing more and finishes the stage.
  public mutating func train(_ stage: Stage, startEpoch: Int = 0, report: (EpochReport) -> Void,
                             batchProgress: (_ done: Int, _ total: Int) -> Void = { _, _ in },
                             checkpoint: (Stage, Int) throws -> Void = { _, _ in }) throws {
    standardized = dataset.clips.map { model.standardized($0.windows) }
    let epochs = settings.epochs[stage] ?? 0
    let trainable = parameters(of: stage)
    for network in [model.disentangler.parameters, model.predictor.parameters, model.alignment.parameters] {
      network.forEach { $0.requiresGradient = false }
    }
    trainable.forEach { $0.requiresGradient = true }
    defer { trainable.forEach { $0.requiresGradient = false } }
    var adam = Adam(learningRate: settings.learningRate)
    let training = dataset.clips.indices.filter { !dataset.clips[$0].isValidation }
    let validation = dataset.clips.indices.filter { dataset.clips[$0].isValidation }
    for epoch in startEpoch..<max(startEpoch, epochs) {
      let start = ContinuousClock.now
      var total = 0.0, steps = 0, clips = 0
      var terms: [String: Double] = [:]
      let epochBatches = batches(stage, clips: training)
      for (b, batch) in epochBatches.enumerated() {
        defer { batchProgress(b + 1, epochBatches.count) }
        let (loss, parts) = self.loss(stage, batch: batch)
        loss.backward()
        adam.step(trainable)
        total += Double(loss.scalars[0])
        for (k, v) in parts { terms[k, default: 0] += v }
        steps += 1
        clips += batch.count
      }
      var validationLoss: Double?
      if !validation.isEmpty {
        var saved = random
        random = SeededGenerator(seed: settings.seed &+ 99)
        let batches = self.batches(stage, clips: validation)
        validationLoss = batches.map { Double(self.loss(stage, batch: $0).loss.scalars[0]) }.reduce(0, +) / Double(max(batches.count, 1))
        swap(&saved, &random)
      }
      let elapsed = ContinuousClock.now - start
      report(EpochReport(stage: stage, epoch: epoch + 1, epochs: epochs, trainingLoss: total / Double(max(steps, 1)),
                         validationLoss: validationLoss, terms: terms.mapValues { $0 / Double(max(steps, 1)) },
                         examples: clips, seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18))
      try checkpoint(stage, epoch + 1)
    }
    if stage == .disentangle { computeEmotionPrototypes() }
  }

  func parameters(of stage: Stage) -> [Parameter] {
    switch stage {
    case .disentangle: model.disentangler.parameters
    case .align: model.alignment.parameters
    case .predict: model.predictor.parameters
    }
  }

  /// One training example: a clip index with the frames (and a partner) it uses.
  struct Example {
    var clip: Int
    var partner: Int
    var start: Int
    var frames: [Int]
  }

  private mutating func batches(_ stage: Stage, clips: [Int]) -> [[Example]] {
    var examples: [Example] = []
    let clipsList = dataset.clips
    switch stage {
    case .disentangle:
      // Every ordered pair of the same speaker, sentence and angle with different emotions; a
      // clip without such a partner reconstructs itself.
      for i in clips {
        let a = clipsList[i]
        let partners = clips.filter {
          let b = clipsList[$0]
          return b.speaker == a.speaker && b.sentence == a.sentence && b.angle == a.angle && b.emotion != a.emotion
        }
        examples.append(Example(clip: i, partner: partners.randomElement(using: &random) ?? i, start: 0, frames: []))
      }
    case .predict:
      examples = clips.map { Example(clip: $0, partner: $0, start: 0, frames: []) }
    case .align:
      let frames = clips.reduce(0) { $0 + clipsList[$1].frameCount }
      let perBatch = settings.alignmentBatch
      for _ in 0..<max(1, frames / perBatch) {
        for _ in 0..<perBatch {
          let p = clips.randomElement(using: &random)!
          let clip = clipsList[p]
          // The same utterance from another camera angle gives the expression, when there is one.
          let others = clips.filter {
            let b = clipsList[$0]
            return b.speaker == clip.speaker && b.sentence == clip.sentence && b.emotion == clip.emotion && b.angle != clip.angle
          }
          let t = Int.random(in: 0..<clip.frameCount, using: &random)
          examples.append(Example(clip: p, partner: others.randomElement(using: &random) ?? p, start: t,
                                  frames: [Int.random(in: 0..<clip.frameCount, using: &random)]))
        }
      }
      return stride(from: 0, to: examples.count, by: perBatch).map { Array(examples[$0..<min($0 + perBatch, examples.count)]) }
    }
    examples.shuffle(using: &random)
    for i in examples.indices {
      let length = min(settings.segmentLength, clipsList[examples[i].clip].frameCount)
      examples[i].start = Int.random(in: 0...(clipsList[examples[i].clip].frameCount - length), using: &random)
      examples[i].frames = Array(examples[i].start..<(examples[i].start + length))
    }
    // Segments of one length per batch: group by length, then cut into batches.
    let byLength = Dictionary(grouping: examples, by: \.frames.count)
    return byLength.keys.sorted().flatMap { length in
      let group = byLength[length]!
      return stride(from: 0, to: group.count, by: settings.batchSize).map { Array(group[$0..<min($0 + settings.batchSize, group.count)]) }
    }
  }

  /// Frame `t` of a clip of `count` frames → the matching frame of a clip of `other` frames
  /// (a uniform time warp: the same sentence spoken at another pace).
  static func warpFrame(_ t: Int, from count: Int, to other: Int) -> Int {
    count <= 1 ? 0 : min(other - 1, Int((Double(t) * Double(other - 1) / Double(count - 1)).rounded()))
  }

  private mutating func loss(_ stage: Stage, batch: [Example]) -> (loss: Tensor, terms: [String: Double]) {
    switch stage {
    case .disentangle: disentanglementLoss(batch)
    case .align: alignmentLoss(batch)
    case .predict: predictionLoss(batch)
    }
  }

  private func disentanglementLoss(_ batch: [Example]) -> (loss: Tensor, terms: [String: Double]) {
    let net = model.disentangler
    let a = Tensor.stack(batch.map { standardized[$0.clip].gatherRows($0.frames) })
    let b = Tensor.stack(batch.map { example in
      let (n, m) = (dataset.clips[example.clip].frameCount, dataset.clips[example.partner].frameCount)
      return standardized[example.partner].gatherRows(example.frames.map { Self.warpFrame($0, from: n, to: m) })
    })
    let (contentA, contentB) = (net.contentCodes(a), net.contentCodes(b))
    let (emotionA, emotionB) = (net.emotionCode(a), net.emotionCode(b))
    let selfLoss = (net.decode(content: contentA, emotion: emotionA) - a).abs().mean()
      + (net.decode(content: contentB, emotion: emotionB) - b).abs().mean()
    let crossLoss = (net.decode(content: contentA, emotion: emotionB) - b).abs().mean()
      + (net.decode(content: contentB, emotion: emotionA) - a).abs().mean()
    let labelsA = batch.map { label(dataset.clips[$0.clip].emotion) }, labelsB = batch.map { label(dataset.clips[$0.partner].emotion) }
    let classLoss = crossEntropy(net.classify(emotionA), labelsA) + crossEntropy(net.classify(emotionB), labelsB)
    let loss = selfLoss + crossLoss + classLoss
    return (loss, ["self": Double(selfLoss.scalars[0]), "cross": Double(crossLoss.scalars[0]), "emotion": Double(classLoss.scalars[0])])
  }

  private mutating func alignmentLoss(_ batch: [Example]) -> (loss: Tensor, terms: [String: Double]) {
    var queries: [[SIMD2<Double>]] = [], poses: [[SIMD2<Double>]] = [], targets: [[SIMD2<Double>]] = []
    for example in batch {
      let clip = dataset.clips[example.clip], source = dataset.clips[example.partner]
      let t = example.start
      queries.append(source.canonical[Self.warpFrame(t, from: clip.frameCount, to: source.frameCount)])
      poses.append(poseGiving(clip, frame: t, expressionFrame: example.frames[0]))
      targets.append(clip.normalized(t))
    }
    let aligned = model.alignment(predicted: queries.landmarkTensor(), pose: poses.landmarkTensor())
    let loss = (aligned - targets.landmarkTensor()).squared().sum(axes: [1, 2]).mean()
    return (loss, ["aligned": Double(loss.scalars[0])])
  }

  private mutating func predictionLoss(_ batch: [Example]) -> (loss: Tensor, terms: [String: Double]) {
    let net = model.disentangler
    let windows = Tensor.stack(batch.map { standardized[$0.clip].gatherRows($0.frames) })
    let content = net.contentCodes(windows).detached()
    let emotion = Tensor.concat(batch.map { net.emotionCode(standardized[$0.clip].unsqueezed(at: 0)).detached() }, axis: 0)
    let references = batch.map { warped(dataset.clips[$0.clip].referenceFace, size: settings.referenceWarp) }
    let predicted = model.predictor(content: content, emotion: emotion, reference: references.landmarkTensor())
    var poses: [[SIMD2<Double>]] = [], normalizedTargets: [[SIMD2<Double>]] = [], canonicalTargets: [[SIMD2<Double>]] = []
    for example in batch {
      let clip = dataset.clips[example.clip]
      for t in example.frames {
        poses.append(poseGiving(clip, frame: t, expressionFrame: Int.random(in: 0..<clip.frameCount, using: &random)))
        normalizedTargets.append(clip.normalized(t))
        canonicalTargets.append(clip.canonical[t])
      }
    }
    let (b, t) = (batch.count, batch[0].frames.count)
    let flat = predicted.reshaped([b * t, 68, 2])
    let aligned = model.alignment(predicted: flat, pose: poses.landmarkTensor())
    let alignedLoss = (aligned - normalizedTargets.landmarkTensor()).squared().sum(axes: [1, 2]).mean()
    let canonical = canonicalTargets.landmarkTensor()
    let canonicalLoss = (flat - canonical).squared().sum(axes: [1, 2]).mean()
    var loss = alignedLoss * settings.alignedLossWeight + canonicalLoss
    var terms = ["aligned": Double(alignedLoss.scalars[0]), "canonical": Double(canonicalLoss.scalars[0])]
    if settings.velocityLossWeight > 0 && t > 1 {
      let motion = { (x: Tensor) in x.slice(axis: 1, 1..<t) - x.slice(axis: 1, 0..<(t - 1)) }
      let velocityLoss = (motion(predicted.reshaped([b, t, 68, 2])) - motion(canonical.reshaped([b, t, 68, 2])))
        .squared().sum(axes: [2, 3]).mean()
      loss = loss + velocityLoss * settings.velocityLossWeight
      terms["velocity"] = Double(velocityLoss.scalars[0])
    }
    return (loss, terms)
  }

  /// The landmarks that give frame t's pose without its mouth: frame t's head with another
  /// frame's expression, then warped a little, clip-normalized.
  private mutating func poseGiving(_ clip: AudioToLandmarksClip, frame t: Int, expressionFrame: Int) -> [SIMD2<Double>] {
    let placed = clip.face(t, withExpressionOf: expressionFrame)
    return warped(placed.map { ($0 - clip.clipFrame.center) / clip.clipFrame.size })
  }

  /// A random affine warp near the identity about the points' centroid.
  private mutating func warped(_ points: [SIMD2<Double>], size: Double? = nil) -> [SIMD2<Double>] {
    let e = size ?? settings.warp
    func r() -> Double { Double.random(in: -1...1, using: &random) * e }
    let (a, b, c, d) = (1 + r(), r(), r(), 1 + r())
    let shift = SIMD2(r(), r())
    let centroid = points.reduce(.zero, +) / Double(points.count)
    return points.map { p in
      let q = p - centroid
      return SIMD2(a * q.x + b * q.y, c * q.x + d * q.y) + centroid + shift
    }
  }

  private func label(_ emotion: String) -> Int { model.configuration.emotions.firstIndex(of: emotion)! }

  private func crossEntropy(_ logits: Tensor, _ labels: [Int]) -> Tensor {
    let classes = logits.shape[1]
    var oneHot = [Float](repeating: 0, count: labels.count * classes)
    for (i, l) in labels.enumerated() { oneHot[i * classes + l] = 1 }
    return (logits.logSoftmax(axis: 1) * Tensor(oneHot, shape: logits.shape)).sum() * (-1 / Float(labels.count))
  }

  /// Each emotion's mean code over its training clips, for choosing an emotion by name.
  mutating func computeEmotionPrototypes() {
    let c = model.configuration
    var rows: [Float] = []
    for name in c.emotions {
      let clips = dataset.training.filter { $0.emotion == name }
      guard !clips.isEmpty else { rows += [Float](repeating: 0, count: c.emotionSize); continue }
      let codes = clips.map { model.disentangler.emotionCode(model.standardized($0.windows).unsqueezed(at: 0)).detached() }
      rows += Tensor.concat(codes, axis: 0).mean(axis: 0).scalars
    }
    model.emotionPrototypes.parameter.value = Tensor(rows, shape: [c.emotions.count, c.emotionSize])
  }
}
