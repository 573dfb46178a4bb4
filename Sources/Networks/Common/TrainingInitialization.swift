import Tensors

extension Layer {
  /// Fresh weights for training from scratch, deterministic for `seed`: He-normal convolution
  /// kernels (σ = √(2 / fan-in), for the ReLUs that follow), zero biases, batch norms at the
  /// identity (weight 1, bias 0, running mean 0, running variance 1). Weights and biases become
  /// trainable; running statistics stay buffers (batch norm's train mode updates them).
  public func initializeForTraining(seed: UInt64) {
    for (i, (name, p)) in namedParameters.enumerated() {
      let buffer = Self.isBuffer(name)
      if p.shape.rank == 4 {
        let fanIn = p.shape[1] * p.shape[2] * p.shape[3]
        p.value = Tensor.randomNormal(p.shape, standardDeviation: Float((2.0 / Double(fanIn)).squareRoot()),
                                      seed: seed &* 1_000_003 &+ UInt64(i))
      } else if name.hasSuffix("running_var") || (name.hasSuffix("weight") && p.shape.rank == 1) {
        p.value = Tensor(ones: p.shape)
      } else {
        p.value = Tensor(zeros: p.shape)
      }
      p.requiresGradient = !buffer
      p.gradient = nil
    }
  }

  /// Makes every weight and bias trainable, leaving batch norms' running statistics buffers
  /// (for fine-tuning or continuing from loaded weights).
  public func makeTrainable() {
    for (name, p) in namedParameters { p.requiresGradient = !Self.isBuffer(name) }
  }

  /// Batch norms' running statistics: state, not parameters to learn.
  static func isBuffer(_ name: String) -> Bool { name.hasSuffix("running_mean") || name.hasSuffix("running_var") }
}
