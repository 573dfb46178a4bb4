import Foundation
import Networks
import Tensors

/// The loss terms of one optimization step, for progress reports.
public struct LossTerms: Sendable, Equatable, CustomStringConvertible {
  public var values: [String: Double]
  public var total: Double

  public var description: String {
    values.sorted { $0.key < $1.key }.map { String(format: "%@ %.5g", $0.key, $0.value) }.joined(separator: ", ")
      + String(format: ", total %.5g", total)
  }
}

/// Stage 4, `optimize`: a window's W+ latents optimized jointly with the tuned generator frozen:
/// λ_LPIPS·LPIPS(f_i, G(w_i)) + λ_fan·L_fan + λ_smooth·Σ‖w_i − w_{i−1}‖², the first and last
/// latents tied by the smoothness term to fixed boundary latents.
public struct WindowOptimization {
  public struct Settings: Sendable, Equatable {
    public var steps = 300
    public var learningRate: Float = 1e-3
    public var lpipsWeight: Float = 1
    public var fanWeight: Float = 5e-3
    public var smoothnessWeight: Float = 1e-4
    public var landmarkWeights = LandmarkHeatmapLoss.defaultWeights
    public init() {}
  }

  public let generator: StyleGAN2Generator
  public let critics: EditingCritics
  public var settings: Settings

  public init(generator: StyleGAN2Generator, critics: EditingCritics, settings: Settings = Settings()) {
    self.generator = generator
    self.critics = critics
    self.settings = settings
  }

  /// frames [N, 3, R, R] in [−1, 1] (the aligned crops), target heatmaps [N, 68, 64, 64],
  /// initial latents [N, L, D], boundary latents [L, D] (nil at the clip's ends). `progress`
  /// sees every step's terms and returns false to stop early (cancellation); `preview` sees each
  /// step's renders [N, 3, R, R] in [−1, 1], detached (for thumbnails). Returns the optimized latents.
  public func optimize(frames: Tensor, targetHeatmaps: Tensor, initial: Tensor, left: Tensor?, right: Tensor?,
                       progress: (Int, LossTerms) -> Bool = { _, _ in true }, preview: (Tensor) -> Void = { _ in }) -> Tensor {
    let n = frames.shape[0]
    precondition(initial.shape[0] == n && targetHeatmaps.shape[0] == n, "optimize: \(n) frames, latents \(initial.shape), targets \(targetHeatmaps.shape)")
    // Inputs are data, never part of someone else's graph.
    let (frames, targetHeatmaps, left, right) = (frames.detached(), targetHeatmaps.detached(), left?.detached(), right?.detached())
    let latents = Parameter(initial)
    var adam = Adam(learningRate: settings.learningRate)
    let fanLoss = LandmarkHeatmapLoss(weights: settings.landmarkWeights)
    withFrozen(generator.parameters) {
      for step in 0..<settings.steps {
        let w = latents.tensor
        let images = generator.synthesize(w)
        let perceptual = critics.perceptual(images, frames)
        let landmarks = fanLoss(critics.heatmaps(images), target: targetHeatmaps)
        let smooth = Self.smoothness(w, left: left, right: right)
        let loss = perceptual * settings.lpipsWeight + landmarks * settings.fanWeight + smooth * settings.smoothnessWeight
        let terms = LossTerms(values: ["lpips": Double(perceptual.scalars[0]), "fan": Double(landmarks.scalars[0]),
                                       "smooth": Double(smooth.scalars[0])], total: Double(loss.scalars[0]))
        loss.backward()
        adam.step([latents])
        preview(images.detached())
        if !progress(step + 1, terms) { break }
      }
    }
    return latents.value
  }

  /// Σ‖w_i − w_{i−1}‖² over the window and its links to the boundary latents.
  public static func smoothness(_ w: Tensor, left: Tensor?, right: Tensor?) -> Tensor {
    var parts: [Tensor] = []
    if let left { parts.append(left.unsqueezed(at: 0)) }
    parts.append(w)
    if let right { parts.append(right.unsqueezed(at: 0)) }
    let chain = parts.count == 1 ? w : Tensor.concat(parts, axis: 0)
    let count = chain.shape[0]
    guard count > 1 else { return Tensor(scalar: 0) }
    return (chain.slice(axis: 0, 1..<count) - chain.slice(axis: 0, 0..<(count - 1))).squared().sum()
  }
}

/// Stage 2, `invert` without an encoder: W+ latents found by optimization from the mean latent,
/// under LPIPS + λ_L2·MSE against the aligned crops.
public struct LatentInversion {
  public struct Settings: Sendable, Equatable {
    public var steps = 300
    public var learningRate: Float = 0.01
    public var l2Weight: Float = 1
    public init() {}
  }

  public let generator: StyleGAN2Generator
  public let critics: EditingCritics
  public var settings: Settings

  public init(generator: StyleGAN2Generator, critics: EditingCritics, settings: Settings = Settings()) {
    self.generator = generator
    self.critics = critics
    self.settings = settings
  }

  /// frames [N, 3, R, R] in [−1, 1] → W+ pivots [N, L, D]; `preview` sees each step's renders.
  public func invert(_ frames: Tensor, progress: (Int, LossTerms) -> Bool = { _, _ in true }, preview: (Tensor) -> Void = { _ in }) -> Tensor {
    let c = generator.configuration
    let n = frames.shape[0]
    let frames = frames.detached()
    let start = generator.meanLatent.reshaped([1, 1, c.styleDim]).broadcast(to: [n, c.latentCount, c.styleDim])
    let latents = Parameter(start)
    var adam = Adam(learningRate: settings.learningRate)
    withFrozen(generator.parameters) {
      for step in 0..<settings.steps {
        let images = generator.synthesize(latents.tensor)
        let perceptual = critics.perceptual(images, frames)
        let l2 = (images - frames).squared().mean()
        let loss = perceptual + l2 * settings.l2Weight
        loss.backward()
        adam.step([latents])
        let terms = LossTerms(values: ["lpips": Double(perceptual.scalars[0]), "l2": Double(l2.scalars[0])], total: Double(loss.scalars[0]))
        preview(images.detached())
        if !progress(step + 1, terms) { break }
      }
    }
    return latents.value
  }
}

/// Stage 3, `tune`: pivotal tuning (PTI) of the generator's synthesis weights so that each
/// frame's pivot renders that frame: LPIPS + λ_L2·MSE, Adam (lr 3e-4), batches of frames taken
/// in turn.
public struct PivotalTuning {
  public struct Settings: Sendable, Equatable {
    public var steps = 350
    public var learningRate: Float = 3e-4
    public var l2Weight: Float = 1
    public var batchSize = 4
    /// PTI's locality regularization: each step also renders a latent α (30) away from the
    /// batch's first pivot toward a random mapped latent and keeps the tuned generator's render
    /// of it close to the untuned one (λ 0.1 on MSE and 0.1 on LPIPS), so tuning stays local.
    public var locality = false
    public var localityAlpha: Float = 30
    public var localityL2Weight: Float = 0.1
    public var localityLPIPSWeight: Float = 0.1
    /// Truncation ψ of the random latents the locality term moves toward (PTI: 0.5).
    public var localityTruncation: Float = 0.5
    public var localitySeed: UInt64 = 0
    public init() {}
  }

  public let generator: StyleGAN2Generator
  public let critics: EditingCritics
  public var settings: Settings

  public init(generator: StyleGAN2Generator, critics: EditingCritics, settings: Settings = Settings()) {
    self.generator = generator
    self.critics = critics
    self.settings = settings
  }

  /// Tunes `generator`'s synthesis weights in place on frames [N, 3, R, R] and pivots [N, L, D].
  public func tune(frames: Tensor, pivots: Tensor, progress: (Int, LossTerms) -> Bool = { _, _ in true }) {
    let n = frames.shape[0]
    let (frames, pivots) = (frames.detached(), pivots.detached())
    try! tune(batch: { step in
      let start = (step * settings.batchSize) % n
      let rows = (0..<min(settings.batchSize, n)).map { (start + $0) % n }
      return (frames.gatherRows(rows), pivots.gatherRows(rows))
    }, progress: progress)
  }

  /// The same with each step's (frames, pivots) batch read by `batch` (step index from 0), so a
  /// long clip's crops need not be in memory together; `preview` sees each step's renders.
  public func tune(batch: (Int) throws -> (frames: Tensor, pivots: Tensor), progress: (Int, LossTerms) -> Bool = { _, _ in true },
                   preview: (Tensor) -> Void = { _ in }) throws {
    let trainable = generator.synthesisParameters
    var adam = Adam(learningRate: settings.learningRate)
    let mapping = generator.parameters.filter { p in !trainable.contains { $0 === p } }
    // The untuned generator, for the locality term (its weights are copies; tuning replaces ours).
    let untuned: StyleGAN2Generator? = settings.locality ? {
      let copy = StyleGAN2Generator(generator.configuration)
      for (target, source) in zip(copy.parameters, generator.parameters) { target.value = source.value }
      return copy
    }() : nil
    try withFrozen(mapping) {
      for step in 0..<settings.steps {
        let (target, w) = try batch(step)
        let images = generator.synthesize(w.detached())
        let perceptual = critics.perceptual(images, target.detached())
        let l2 = (images - target.detached()).squared().mean()
        var loss = perceptual + l2 * settings.l2Weight
        var values = ["lpips": Double(perceptual.scalars[0]), "l2": Double(l2.scalars[0])]
        if let untuned {
          let (localL2, localLPIPS) = localityTerms(pivot: w.slice(axis: 0, 0..<1).detached(), untuned: untuned, step: step)
          loss = loss + localL2 * settings.localityL2Weight + localLPIPS * settings.localityLPIPSWeight
          values["locality_l2"] = Double(localL2.scalars[0])
          values["locality_lpips"] = Double(localLPIPS.scalars[0])
        }
        loss.backward()
        adam.step(trainable)
        preview(images.detached())
        if !progress(step + 1, LossTerms(values: values, total: Double(loss.scalars[0]))) { break }
      }
    }
  }

  /// MSE and LPIPS between the tuned and the untuned renders of w_r = w_p + α·(w_z − w_p)/‖w_z − w_p‖,
  /// w_z the mapping of a seeded random z (one per step) truncated as PTI samples it (ψ 0.5),
  /// w_p the pivot [1, L, D].
  func localityTerms(pivot: Tensor, untuned: StyleGAN2Generator, step: Int) -> (l2: Tensor, lpips: Tensor) {
    let layers = pivot.shape[1], d = pivot.shape[2]
    let z = Tensor.randomNormal([1, d], seed: settings.localitySeed &+ 7_919 &* UInt64(step + 1))
    let wz = withFrozen(generator.parameters) { generator.truncate(generator.map(z), psi: settings.localityTruncation).detached() }.scalars
    let wp = pivot.scalars
    var direction = [Float](repeating: 0, count: wp.count)
    for l in 0..<layers { for k in 0..<d { direction[l * d + k] = wz[k] - wp[l * d + k] } }
    let norm = max(direction.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-8)
    let wr = Tensor(zip(wp, direction).map { $0 + settings.localityAlpha * $1 / norm }, shape: pivot.shape)
    let reference = withFrozen(untuned.parameters) { untuned.synthesize(wr).detached() }
    let render = generator.synthesize(wr)
    return ((render - reference).squared().mean(), critics.perceptual(render, reference))
  }
}
