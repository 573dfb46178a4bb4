import Foundation
import Networks
import Tensors

/// Training of a StyleGAN2 generator as the decoder of a conditional auto-encoder, in the spirit
/// of GLO (Bojanowski et al., "Optimizing the Latent Space of Generative Networks", 2018): each
/// training image comes with the vector of parameters it was drawn from, a small MLP (used only
/// in training) turns that vector into the image's W code, and the MLP and the synthesis weights
/// learn together under a pixel reconstruction loss (λ₁·L1 + λ₂·MSE, optionally weighted per
/// pixel). No discriminator: on a small rendered world this reaches sharp reconstructions in
/// minutes, and reconstruction is what the edit needs. Sharing the MLP makes every image train
/// every code (free per-image codes, as in plain GLO, each get a handful of updates in the same
/// time) and lays the faces out smoothly in W: a face with the mouth a little more open sits a
/// little further along the same direction. The generator's mean latent becomes the mean code.
public struct GeneratorTraining {
  public struct Settings: Sendable, Equatable {
    public var steps = 3000
    public var batchSize = 16
    /// Adam on the synthesis weights (StyleGAN2's own rate and betas: its layers are equalized).
    public var learningRate: Float = 2e-3
    /// Adam on the parameter-to-code MLP.
    public var encoderLearningRate: Float = 1e-3
    /// The last `decayShare` of the steps lower both rates along a half cosine to a tenth:
    /// the reconstructions sharpen once the rates come down.
    public var decayShare: Float = 0.3
    public var encoderWidth = 256
    public var l1Weight: Float = 1
    public var l2Weight: Float = 1
    public var seed: UInt64 = 1
    public init() {}
  }

  public struct Progress: Sendable {
    public var step: Int
    public var steps: Int
    /// Means over the step's batch (unweighted), images in [−1, 1].
    public var l1: Double
    public var mse: Double
  }

  public var settings: Settings

  public init(settings: Settings = Settings()) {
    self.settings = settings
  }

  /// Trains `generator`'s synthesis weights in place on `images` [N, 3, R, R] in [−1, 1] (R the
  /// generator's size) drawn from `conditions` [N, C], with optional per-pixel loss `weights`
  /// [N, 1, R, R]. Returns the codes [N, style_dim] of the training images and sets the mean
  /// latent to their mean. `progress` is called every step; returning false stops early.
  public func train(_ generator: inout StyleGAN2Generator, images: Tensor, conditions: Tensor, weights: Tensor? = nil,
                    progress: (Progress) -> Bool = { _ in true }) -> Tensor {
    let c = generator.configuration
    precondition(images.rank == 4 && images.shape[1] == 3 && images.shape[2] == c.size && images.shape[3] == c.size,
                 "training images must be [N, 3, \(c.size), \(c.size)], got \(images.shape)")
    let n = images.shape[0]
    precondition(conditions.rank == 2 && conditions.shape[0] == n, "conditions must be [\(n), C], got \(conditions.shape)")
    precondition(weights.map { $0.shape.dims == [n, 1, c.size, c.size] } ?? true, "weights must be [\(n), 1, \(c.size), \(c.size)]")
    let (images, conditions, weights) = (images.detached(), conditions.detached(), weights?.detached())
    let encoder = MultilayerPerceptron([conditions.shape[1], settings.encoderWidth, settings.encoderWidth, c.styleDim],
                                       seed: settings.seed &+ 11)
    let synthesis = generator.synthesisParameters
    let mapping = generator.parameters.filter { p in !synthesis.contains { $0 === p } }
    var generatorOptimizer = Adam(learningRate: settings.learningRate, beta1: 0, beta2: 0.99)
    var encoderOptimizer = Adam(learningRate: settings.encoderLearningRate)
    var order = SeededGenerator(seed: settings.seed &+ 23)
    var permutation = Array(0..<n)
    var cursor = n
    withFrozen(mapping) {
      let decayStart = Int(Float(settings.steps) * (1 - settings.decayShare))
      for step in 0..<settings.steps {
        if step >= decayStart {
          let t = Float(step - decayStart) / Float(max(1, settings.steps - decayStart))
          let factor = 0.1 + 0.9 * 0.5 * (1 + cos(Float.pi * t))
          generatorOptimizer.learningRate = settings.learningRate * factor
          encoderOptimizer.learningRate = settings.encoderLearningRate * factor
        }
        var rows: [Int] = []
        for _ in 0..<min(settings.batchSize, n) {
          if cursor == n {
            permutation.shuffle(using: &order)
            cursor = 0
          }
          rows.append(permutation[cursor])
          cursor += 1
        }
        let rendered = generator.synthesize(encoder(conditions.gatherRows(rows)))
        let difference = rendered - images.gatherRows(rows)
        let l1 = difference.abs().mean(), mse = difference.squared().mean()
        let loss: Tensor
        if let weights {
          let w = weights.gatherRows(rows)
          loss = ((difference.abs() * settings.l1Weight + difference.squared() * settings.l2Weight) * w).mean()
        } else {
          loss = l1 * settings.l1Weight + mse * settings.l2Weight
        }
        loss.backward()
        generatorOptimizer.step(synthesis)
        encoderOptimizer.step(encoder.parameters)
        let report = Progress(step: step + 1, steps: settings.steps, l1: Double(l1.scalars[0]), mse: Double(mse.scalars[0]))
        if !progress(report) { break }
      }
    }
    let codes = withFrozen(encoder.parameters) {
      Tensor.concat(stride(from: 0, to: n, by: 256).map { encoder(conditions.slice(axis: 0, $0..<min(n, $0 + 256))) }, axis: 0)
    }
    generator.meanLatent = codes.mean(axis: 0)
    return codes
  }
}
