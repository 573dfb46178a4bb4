import Foundation
import Tensors

/// Equalized-learning-rate linear layer (`EqualLinear`): the stored weight is scaled by
/// lr_mul/√in at run time; with `activation` the bias goes through the fused leaky ReLU.
struct EqualLinear: Layer {
  let weight: Parameter  // [out, in]
  let bias: Parameter  // [out]
  let scale: Float
  let learningRateMultiplier: Float
  let activation: Bool

  init(inputs: Int, outputs: Int, biasInit: Float = 0, learningRateMultiplier: Float = 1, activation: Bool = false, seed: UInt64) {
    weight = Parameter(Tensor.randomNormal([outputs, inputs], seed: seed) / learningRateMultiplier)
    bias = Parameter(Tensor(repeating: biasInit, shape: [outputs]))
    scale = 1 / Float(inputs).squareRoot() * learningRateMultiplier
    self.learningRateMultiplier = learningRateMultiplier
    self.activation = activation
  }

  var namedParameters: [(name: String, parameter: Parameter)] { [("weight", weight), ("bias", bias)] }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let b = bias.tensor * learningRateMultiplier
    if activation {
      return fusedLeakyReLU(Tensor.linear(x, weight: weight.tensor * scale), bias: b)
    }
    return Tensor.linear(x, weight: weight.tensor * scale, bias: b)
  }
}

/// leaky_relu(x + bias, 0.2)·√2, the bias broadcast over channel axis 1 (one fused pass).
func fusedLeakyReLU(_ x: Tensor, bias: Tensor) -> Tensor {
  Tensor.styledActivation(x, bias: bias, slope: 0.2, gain: Float(2).squareRoot())
}

/// The style-modulated convolution. Per-frame styles are applied to the activations instead
/// of the weights, so the whole batch shares one weight and one large GEMM:
/// conv(x·s, W)·d equals the reference's grouped conv with weights W·s·d per frame.
struct ModulatedConv2d: Layer {
  let weight: Parameter  // [1, out, in, k, k] as in the reference
  let modulation: EqualLinear
  /// The upsampling conv's blur kernel (already ×4), a buffer of the checkpoint.
  let blurKernel: Parameter?
  let inChannels: Int, outChannels: Int, kernelSize: Int
  let demodulate: Bool
  let scale: Float

  init(inChannels: Int, outChannels: Int, kernelSize: Int, styleDim: Int, demodulate: Bool = true,
       upsample: Bool = false, blurKernel: [Float], seed: UInt64) {
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.kernelSize = kernelSize
    self.demodulate = demodulate
    scale = 1 / Float(inChannels * kernelSize * kernelSize).squareRoot()
    weight = Parameter(Tensor.randomNormal([1, outChannels, inChannels, kernelSize, kernelSize], seed: seed))
    modulation = EqualLinear(inputs: styleDim, outputs: inChannels, biasInit: 1, seed: seed &+ 1)
    self.blurKernel = upsample ? Parameter(makeBlurKernel(blurKernel, factor: 2), requiresGradient: false) : nil
  }

  var namedParameters: [(name: String, parameter: Parameter)] {
    var list: [(name: String, parameter: Parameter)] = [("weight", weight)] + modulation.prefixed("modulation")
    if let blurKernel { list.append(("blur.kernel", blurKernel)) }
    return list
  }

  /// `x` [B, in, H, W], `style` [B, style_dim] → [B, out, H', W'] (H' = 2H when upsampling).
  func callAsFunction(_ x: Tensor, style: Tensor) -> Tensor {
    let (out, d) = undemodulated(x, style: style)
    guard let d else { return out }
    return out * d.reshaped([x.shape[0], outChannels, 1, 1])
  }

  /// The convolution before demodulation, and the demodulation d [B, out] (nil without it),
  /// so that a fused activation can apply d in the same pass as noise, bias and leaky ReLU.
  /// When upsampling, the blur comes before d here; both are linear and d is constant per
  /// channel, so this equals the reference's order up to float rounding.
  func undemodulated(_ x: Tensor, style: Tensor) -> (Tensor, demodulation: Tensor?) {
    let s = modulation(style)  // [B, in]
    let w = weight.tensor.reshaped([outChannels, inChannels, kernelSize, kernelSize]) * scale
    var out: Tensor
    if let blurKernel {
      // Transposed conv, stride 2, then the [1,3,3,1] blur padded (1, 1) as the reference does.
      out = Tensor.conv2dTransposed(x, inputScale: s, weight: w.permuted([1, 0, 2, 3]), stride: 2)
      let p = (blurKernel.shape[0] - 2) - (kernelSize - 1)
      out = Tensor.upfirdn2d(out, kernel: blurKernel.tensor, pad: ((p + 1) / 2 + 1, p / 2 + 1))
    } else {
      out = Tensor.conv2d(x, inputScale: s, weight: w, padding: kernelSize / 2)
    }
    return (out, demodulate ? demodulation(w, s) : nil)
  }

  /// d[b, o] = 1/√(Σᵢ s[b,i]²·Σₖ w[o,i,k]² + 1e-8), shaped [B, out].
  func demodulation(_ w: Tensor, _ s: Tensor) -> Tensor {
    let wSquared = w.squared().sum(axes: [2, 3])  // [out, in]
    let energy = Tensor.matmul(s.squared(), wSquared, transposeB: true)  // [B, out]
    return (energy + 1e-8).rsqrt()
  }
}

/// The separable FIR kernel outer(k, k)/sum, times factor² when it follows an upsampling.
func makeBlurKernel(_ k: [Float], factor: Int) -> Tensor {
  let n = k.count
  var values = [Float](repeating: 0, count: n * n)
  for i in 0..<n { for j in 0..<n { values[i * n + j] = k[i] * k[j] } }
  let total = values.reduce(0, +)
  return Tensor(values.map { $0 / total * Float(factor * factor) }, shape: [n, n])
}

/// How the generator draws its per-layer noise.
public enum NoiseMode: Sendable, Equatable {
  /// The checkpoint's fixed buffers (`noises.noise_N`), as `randomize_noise=False`.
  case constant
  /// Fresh Gaussian noise per frame from a seed.
  case random(seed: UInt64)
  /// No noise at all.
  case none
}

/// Modulated conv + noise injection + fused leaky ReLU with its bias.
struct StyledConv: Layer {
  let conv: ModulatedConv2d
  let noiseWeight: Parameter  // [1]
  let activationBias: Parameter  // [out]

  init(inChannels: Int, outChannels: Int, styleDim: Int, upsample: Bool, blurKernel: [Float], seed: UInt64) {
    conv = ModulatedConv2d(inChannels: inChannels, outChannels: outChannels, kernelSize: 3, styleDim: styleDim,
                           upsample: upsample, blurKernel: blurKernel, seed: seed)
    noiseWeight = Parameter(Tensor(zeros: [1]))
    activationBias = Parameter(Tensor(zeros: [outChannels]))
  }

  var namedParameters: [(name: String, parameter: Parameter)] {
    conv.prefixed("conv") + [("noise.weight", noiseWeight), ("activate.bias", activationBias)]
  }

  func callAsFunction(_ x: Tensor, style: Tensor, noise: Tensor?) -> Tensor {
    // Demodulation, noise, bias and activation in one pass over the conv's output.
    let (out, d) = conv.undemodulated(x, style: style)
    return Tensor.styledActivation(out, demodulation: d, noise: noise, noiseWeight: noise == nil ? nil : noiseWeight.tensor,
                                   bias: activationBias.tensor, slope: 0.2, gain: Float(2).squareRoot())
  }
}

/// 1×1 modulated conv to RGB (no demodulation), plus the upsampled skip from below.
struct ToRGB: Layer {
  let conv: ModulatedConv2d
  let bias: Parameter  // [1, 3, 1, 1]
  let upsampleKernel: Parameter?

  init(inChannels: Int, styleDim: Int, upsample: Bool, blurKernel: [Float], seed: UInt64) {
    conv = ModulatedConv2d(inChannels: inChannels, outChannels: 3, kernelSize: 1, styleDim: styleDim, demodulate: false,
                           blurKernel: blurKernel, seed: seed)
    bias = Parameter(Tensor(zeros: [1, 3, 1, 1]))
    upsampleKernel = upsample ? Parameter(makeBlurKernel(blurKernel, factor: 2), requiresGradient: false) : nil
  }

  var namedParameters: [(name: String, parameter: Parameter)] {
    var list = conv.prefixed("conv") + [("bias", bias)]
    if let upsampleKernel { list.append(("upsample.kernel", upsampleKernel)) }
    return list
  }

  func callAsFunction(_ x: Tensor, style: Tensor, skip: Tensor?) -> Tensor {
    var out = conv(x, style: style) + bias.tensor
    if let skip, let upsampleKernel {
      // Upsample ×2 by zero insertion and the FIR kernel, padded as the reference pads it.
      let p = upsampleKernel.shape[0] - 2
      out = out + Tensor.upfirdn2d(skip, kernel: upsampleKernel.tensor, up: 2, pad: ((p + 1) / 2 + 1, p / 2))
    }
    return out
  }
}
