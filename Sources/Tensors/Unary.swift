import Foundation

// Elementwise functions. Each backward is one fused pass over (gradient, input or output).

extension Tensor {
  public func squared() -> Tensor {
    let x = detached()
    return Tensor.record(map { $0 * $0 }, input: self) { g in g.zipMap(x) { g, x in 2 * g * x } }
  }

  public func sqrt() -> Tensor {
    let out = map { Foundation.sqrt($0) }
    return Tensor.record(out, input: self) { g in g.zipMap(out) { g, y in g * 0.5 / y } }
  }

  public func rsqrt() -> Tensor {
    let out = map { 1 / Foundation.sqrt($0) }
    return Tensor.record(out, input: self) { g in g.zipMap(out) { g, y in -0.5 * g * y * y * y } }
  }

  public func exp() -> Tensor {
    let out = map { Foundation.exp($0) }
    return Tensor.record(out, input: self) { g in g.zipMap(out, *) }
  }

  public func log() -> Tensor {
    let x = detached()
    return Tensor.record(map { Foundation.log($0) }, input: self) { g in g.zipMap(x, /) }
  }

  public func abs() -> Tensor {
    let x = detached()
    return Tensor.record(map { Swift.abs($0) }, input: self) { g in
      g.zipMap(x) { g, x in x > 0 ? g : (x < 0 ? -g : 0) }
    }
  }

  /// `x^p` for a constant exponent.
  public func pow(_ p: Float) -> Tensor {
    let x = detached()
    return Tensor.record(map { Foundation.pow($0, p) }, input: self) { g in
      g.zipMap(x) { g, x in g * p * Foundation.pow(x, p - 1) }
    }
  }

  /// Limits values to `lower...upper`; the gradient passes only where the value was inside.
  public func clamped(min lower: Float = -.infinity, max upper: Float = .infinity) -> Tensor {
    let x = detached()
    return Tensor.record(map { Swift.min(Swift.max($0, lower), upper) }, input: self) { g in
      g.zipMap(x) { g, x in x >= lower && x <= upper ? g : 0 }
    }
  }

  public func relu() -> Tensor {
    let x = detached()
    return Tensor.record(map { Swift.max($0, 0) }, input: self) { g in g.zipMap(x) { g, x in x > 0 ? g : 0 } }
  }

  /// Leaky ReLU scaled by `gain` (StyleGAN2's fused activation uses slope 0.2, gain √2).
  public func leakyRelu(slope: Float = 0.2, gain: Float = 1) -> Tensor {
    let x = detached()
    let neg = slope * gain
    return Tensor.record(map { $0 >= 0 ? $0 * gain : $0 * neg }, input: self) { g in
      g.zipMap(x) { g, x in x >= 0 ? g * gain : g * neg }
    }
  }

  public func sigmoid() -> Tensor {
    let out = map { 1 / (1 + Foundation.exp(-$0)) }
    return Tensor.record(out, input: self) { g in g.zipMap(out) { g, y in g * y * (1 - y) } }
  }

  public func tanh() -> Tensor {
    let out = map { Foundation.tanh($0) }
    return Tensor.record(out, input: self) { g in g.zipMap(out) { g, y in g * (1 - y * y) } }
  }
}
