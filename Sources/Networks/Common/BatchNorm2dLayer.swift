import Tensors

/// `nn.BatchNorm2d` under PyTorch's names: `weight`, `bias`, `running_mean`, `running_var`.
/// Checkpoints' `num_batches_tracked` counters play no part; the converter drops them.
///
/// Eval mode (running statistics) unless the calling task runs inside
/// `BatchNorm2dLayer.$training.withValue(true) { ... }`: then each call normalizes with the
/// batch's own statistics (biased variance), differentiably, and moves the running
/// statistics toward them (`momentum`, unbiased variance), as PyTorch's train mode does.
public struct BatchNorm2dLayer: Layer, Sendable {
  public let weight: Parameter
  public let bias: Parameter
  public let runningMean: Parameter
  public let runningVariance: Parameter
  public let eps: Float
  public let momentum: Float

  /// Train mode for every batch norm the current task evaluates (a task-local, so one
  /// training loop does not change inference elsewhere in the process).
  @TaskLocal public static var training = false

  public init(_ channels: Int, eps: Float = 1e-5, momentum: Float = 0.1) {
    weight = Parameter(Tensor(ones: [channels]), requiresGradient: false)
    bias = Parameter(Tensor(zeros: [channels]), requiresGradient: false)
    runningMean = Parameter(Tensor(zeros: [channels]), requiresGradient: false)
    runningVariance = Parameter(Tensor(ones: [channels]), requiresGradient: false)
    self.eps = eps
    self.momentum = momentum
  }

  /// `(x − mean) / √(var + eps) · weight + bias` per channel, then a ReLU when `relu` is set,
  /// in one fused pass (`channelAffine`).
  public func callAsFunction(_ x: Tensor, relu: Bool = false) -> Tensor {
    if Self.training { return trainingForward(x, relu: relu) }
    let scale = weight.tensor * (runningVariance.value + eps).rsqrt()
    let shift = bias.tensor - runningMean.value * scale
    return x.channelAffine(scale: scale, shift: shift, relu: relu)
  }

  /// Batch statistics as differentiable functions of x (mean and E[x²] − mean²), folded into
  /// the same fused affine map, so the backward pass is the exact batch-norm gradient.
  func trainingForward(_ x: Tensor, relu: Bool) -> Tensor {
    precondition(x.rank == 4, "BatchNorm2d: input must be [N, C, H, W], got \(x.shape)")
    let n = x.shape[0] * x.shape[2] * x.shape[3]
    precondition(n > 1, "BatchNorm2d in training mode needs more than one value per channel, got input \(x.shape)")
    let mean = x.mean(axes: [0, 2, 3])
    let variance = (x.squared().mean(axes: [0, 2, 3]) - mean.squared()).clamped(min: 0)
    let scale = weight.tensor * (variance + eps).rsqrt()
    let shift = bias.tensor - mean * scale
    let m = momentum, unbiased = Float(n) / Float(n - 1)
    runningMean.value = runningMean.value * (1 - m) + mean.detached() * m
    runningVariance.value = runningVariance.value * (1 - m) + variance.detached() * (m * unbiased)
    return x.channelAffine(scale: scale, shift: shift, relu: relu)
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    [("weight", weight), ("bias", bias), ("running_mean", runningMean), ("running_var", runningVariance)]
  }
}
