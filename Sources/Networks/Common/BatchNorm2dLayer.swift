import Tensors

/// `nn.BatchNorm2d` in eval mode (running statistics), under PyTorch's names: `weight`,
/// `bias`, `running_mean`, `running_var`. Checkpoints' `num_batches_tracked` counters play no
/// part in eval mode; the converter drops them.
public struct BatchNorm2dLayer: Layer, Sendable {
  public let weight: Parameter
  public let bias: Parameter
  public let runningMean: Parameter
  public let runningVariance: Parameter
  public let eps: Float

  public init(_ channels: Int, eps: Float = 1e-5) {
    weight = Parameter(Tensor(ones: [channels]), requiresGradient: false)
    bias = Parameter(Tensor(zeros: [channels]), requiresGradient: false)
    runningMean = Parameter(Tensor(zeros: [channels]), requiresGradient: false)
    runningVariance = Parameter(Tensor(ones: [channels]), requiresGradient: false)
    self.eps = eps
  }

  /// `(x − mean) / √(var + eps) · weight + bias` per channel, then a ReLU when `relu` is set,
  /// in one fused pass (`channelAffine`).
  public func callAsFunction(_ x: Tensor, relu: Bool = false) -> Tensor {
    let scale = weight.tensor * (runningVariance.value + eps).rsqrt()
    let shift = bias.tensor - runningMean.value * scale
    return x.channelAffine(scale: scale, shift: shift, relu: relu)
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    [("weight", weight), ("bias", bias), ("running_mean", runningMean), ("running_var", runningVariance)]
  }
}
