// ReLU whose backward pass keeps its output instead of its input. The mask is the same
// (y > 0 exactly where x > 0), but a conv output feeding only this ReLU can then be freed as
// soon as the ReLU has run, which halves the activations a conv+ReLU stack holds for backward.

extension Tensor {
  /// `max(x, 0)` with the gradient of `relu()`; the autodiff graph holds the output only.
  public func reluSavingOutput() -> Tensor {
    let out = map { Swift.max($0, 0) }
    let y = out.detached()
    return Tensor.record(out, input: self) { g in g.zipMap(y) { g, y in y > 0 ? g : 0 } }
  }
}
