import Foundation
import Tensors

/// The StyleGAN2 generator of rosinality/stylegan2-pytorch (`Generator`), parameter for
/// parameter under its key names, batched over frames with per-frame W+ styles.
public struct StyleGAN2Generator: Layer {
  public let configuration: StyleGAN2Configuration
  let mapping: [EqualLinear]
  let constantInput: Parameter  // [1, C4, 4, 4]
  let conv1: StyledConv
  let toRGB1: ToRGB
  let convs: [StyledConv]
  let toRGBs: [ToRGB]
  let noises: [Parameter]  // [1, 1, r, r] buffers
  /// The mean W (`latent_avg`), the centre of truncation and of optimization from scratch.
  public var meanLatent: Tensor

  /// A generator with freshly initialized (seeded) weights, as the reference initializes them.
  public init(_ configuration: StyleGAN2Configuration, seed: UInt64 = 0) {
    self.configuration = configuration
    let c = configuration
    mapping = (1...c.mappingLayers).map { i in
      EqualLinear(inputs: c.styleDim, outputs: c.styleDim, learningRateMultiplier: c.mappingLearningRate,
                  activation: true, seed: seed &+ UInt64(i) &* 1_000)
    }
    let c4 = c.channels(at: 4)
    constantInput = Parameter(Tensor.randomNormal([1, c4, 4, 4], seed: seed &+ 17))
    conv1 = StyledConv(inChannels: c4, outChannels: c4, styleDim: c.styleDim, upsample: false,
                       blurKernel: c.blurKernel, seed: seed &+ 31)
    toRGB1 = ToRGB(inChannels: c4, styleDim: c.styleDim, upsample: false, blurKernel: c.blurKernel, seed: seed &+ 37)
    var convs: [StyledConv] = [], toRGBs: [ToRGB] = []
    var inChannels = c4
    for (k, resolution) in c.resolutions.dropFirst().enumerated() {
      let out = c.channels(at: resolution)
      let layerSeed = seed &+ 100 &+ UInt64(k) &* 10
      convs.append(StyledConv(inChannels: inChannels, outChannels: out, styleDim: c.styleDim, upsample: true,
                              blurKernel: c.blurKernel, seed: layerSeed))
      convs.append(StyledConv(inChannels: out, outChannels: out, styleDim: c.styleDim, upsample: false,
                              blurKernel: c.blurKernel, seed: layerSeed &+ 3))
      toRGBs.append(ToRGB(inChannels: out, styleDim: c.styleDim, upsample: true, blurKernel: c.blurKernel, seed: layerSeed &+ 6))
      inChannels = out
    }
    self.convs = convs
    self.toRGBs = toRGBs
    noises = (0..<c.noiseCount).map { i in
      let r = 1 << ((i + 5) / 2)
      return Parameter(Tensor.randomNormal([1, 1, r, r], seed: seed &+ 5_000 &+ UInt64(i)), requiresGradient: false)
    }
    meanLatent = Tensor(zeros: [c.styleDim])
    meanLatent = estimateMeanLatent(samples: 1024, seed: seed &+ 99)
  }

  /// Loads a converted checkpoint: configuration from its metadata, weights by name (strict),
  /// and `latent_avg` when present (otherwise estimated from 4096 mapped samples).
  public init(contentsOf url: URL) throws {
    let file = try SafeTensorsFile(contentsOf: url)
    try self.init(file: file)
  }

  public init(file: SafeTensorsFile) throws {
    self.init(try StyleGAN2Configuration(metadata: file.metadata))
    try load(from: file, ignoring: { $0 == "latent_avg" })
    if file.contains("latent_avg") {
      let avg = try file.tensor("latent_avg")
      guard avg.count == configuration.styleDim else {
        throw WeightLoadingError.shapeMismatch(key: "latent_avg", expected: [configuration.styleDim], found: avg.shape)
      }
      meanLatent = avg.reshaped([configuration.styleDim])
    } else {
      meanLatent = estimateMeanLatent(samples: 4096, seed: 0)
    }
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    var list: [(name: String, parameter: Parameter)] = []
    for (i, layer) in mapping.enumerated() { list += layer.prefixed("style.\(i + 1)") }
    list.append(("input.input", constantInput))
    list += conv1.prefixed("conv1") + toRGB1.prefixed("to_rgb1")
    for (i, layer) in convs.enumerated() { list += layer.prefixed("convs.\(i)") }
    for (i, layer) in toRGBs.enumerated() { list += layer.prefixed("to_rgbs.\(i)") }
    for (i, noise) in noises.enumerated() { list.append(("noises.noise_\(i)", noise)) }
    return list
  }

  /// The synthesis network's trainable weights (what pivotal and stitching tuning adjust).
  public var synthesisParameters: [Parameter] {
    namedParameters.filter { !$0.name.hasPrefix("style.") && $0.parameter.requiresGradient }.map(\.parameter)
  }

  // MARK: Mapping

  /// z [B, style_dim] → w [B, style_dim].
  public func map(_ z: Tensor) -> Tensor {
    precondition(z.rank == 2 && z.shape[1] == configuration.styleDim, "z must be [B, \(configuration.styleDim)], got \(z.shape)")
    var w = z.pixelNorm()
    for layer in mapping { w = layer(w) }
    return w
  }

  /// Pulls w toward the mean latent: w_avg + ψ·(w − w_avg).
  public func truncate(_ w: Tensor, psi: Float) -> Tensor {
    if psi == 1 { return w }
    let shape = [Int](repeating: 1, count: w.rank - 1) + [configuration.styleDim]
    let avg = meanLatent.reshaped(shape)
    return avg + (w - avg) * psi
  }

  /// The average of mapped samples (rosinality's `mean_latent`).
  public func estimateMeanLatent(samples: Int, seed: UInt64) -> Tensor {
    map(Tensor.randomNormal([samples, configuration.styleDim], seed: seed)).mean(axis: 0)
  }

  // MARK: Synthesis

  /// Renders images [B, 3, size, size] (roughly in [-1, 1]) from W+ latents [B, L, style_dim]
  /// or from W [B, style_dim] (repeated to every layer). Differentiable with respect to the
  /// latents and to every trainable weight.
  public func synthesize(_ latents: Tensor, noise: NoiseMode = .constant) -> Tensor {
    let c = configuration
    let wPlus: Tensor
    if latents.rank == 2 {
      precondition(latents.shape[1] == c.styleDim, "W must be [B, \(c.styleDim)], got \(latents.shape)")
      wPlus = latents.unsqueezed(at: 1).broadcast(to: [latents.shape[0], c.latentCount, c.styleDim])
    } else {
      precondition(latents.rank == 3 && latents.shape[1] == c.latentCount && latents.shape[2] == c.styleDim,
                   "W+ must be [B, \(c.latentCount), \(c.styleDim)], got \(latents.shape)")
      wPlus = latents
    }
    let batch = wPlus.shape[0]
    let styles = (0..<c.latentCount).map { wPlus.select(axis: 1, $0) }
    let noiseInputs = (0..<c.noiseCount).map { i -> Tensor? in noiseTensor(i, batch: batch, mode: noise) }

    var out = constantInput.tensor.broadcast(to: [batch, c.channels(at: 4), 4, 4])
    out = conv1(out, style: styles[0], noise: noiseInputs[0])
    var skip = toRGB1(out, style: styles[1], skip: nil)
    var i = 1
    for k in 0..<toRGBs.count {
      out = convs[2 * k](out, style: styles[i], noise: noiseInputs[2 * k + 1])
      out = convs[2 * k + 1](out, style: styles[i + 1], noise: noiseInputs[2 * k + 2])
      skip = toRGBs[k](out, style: styles[i + 2], skip: skip)
      i += 2
    }
    return skip
  }

  /// z [B, style_dim] → images, through the mapping network and optional truncation.
  public func generate(z: Tensor, truncation psi: Float = 1, noise: NoiseMode = .constant) -> Tensor {
    synthesize(truncate(map(z), psi: psi), noise: noise)
  }

  func noiseTensor(_ index: Int, batch: Int, mode: NoiseMode) -> Tensor? {
    switch mode {
    case .none: return nil
    case .constant: return noises[index].tensor
    case let .random(seed):
      let r = noises[index].shape[2]
      return Tensor.randomNormal([batch, 1, r, r], seed: seed &+ UInt64(index) &* 7_919)
    }
  }
}
