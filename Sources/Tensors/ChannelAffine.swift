// A per-channel affine map with an optional ReLU, fused into one pass: the inference form of
// batch norm (and batch norm + ReLU) without the intermediate tensors of separate ops.

extension Tensor {
  /// `x · scale[c] + shift[c]` over channel axis 1 of an [N, C, ...] tensor, followed by a ReLU
  /// when `relu` is set. `scale` and `shift` are [C]. Differentiable in all three; the backward
  /// pass keeps only the output (and the input when `scale` needs its gradient).
  public func channelAffine(scale: Tensor, shift: Tensor, relu: Bool = false) -> Tensor {
    precondition(rank >= 2, "channelAffine: input must be [N, C, ...], got \(shape)")
    let c = shape[1]
    precondition(scale.shape == [c] && shift.shape == [c],
                 "channelAffine: scale \(scale.shape) and shift \(shift.shape) must both be [\(c)] for input \(shape)")
    let planes = shape[0] * c
    let inner = planes == 0 ? 0 : count / planes
    let out = Tensor(uninitialized: shape)
    let px = base, ps = scale.base, pb = shift.base, po = out.base
    let grain = Swift.max(1, 32_768 / Swift.max(1, inner))
    Parallel.forRanges(planes, grain: grain) { range in
      for plane in range {
        let a = ps[plane % c], b = pb[plane % c]
        let src = px + plane * inner, dst = po + plane * inner
        if relu {
          for i in 0..<inner { dst[i] = Swift.max(src[i] * a + b, 0) }
        } else {
          for i in 0..<inner { dst[i] = src[i] * a + b }
        }
      }
    }
    let needInput = node != nil, needScale = scale.node != nil, needShift = shift.node != nil
    // The input is kept only for the scale's gradient; the ReLU mask is read from the output.
    let x0: Tensor? = needScale ? detached() : nil
    let s0 = scale.detached()
    let y0 = out.detached()
    return Tensor.record(out, inputs: [self, scale, shift]) { g in
      let pg = g.base, py = y0.base, pa = s0.base
      var gx: Tensor? = nil
      if needInput {
        let result = Tensor(uninitialized: y0.shape)
        let pr = result.base
        Parallel.forRanges(planes, grain: grain) { range in
          for plane in range {
            let a = pa[plane % c]
            let grad = pg + plane * inner, dst = pr + plane * inner, y = py + plane * inner
            if relu {
              for i in 0..<inner { dst[i] = y[i] > 0 ? grad[i] * a : 0 }
            } else {
              for i in 0..<inner { dst[i] = grad[i] * a }
            }
          }
        }
        gx = result
      }
      var gs: Tensor? = nil, gb: Tensor? = nil
      if needScale || needShift {
        // Per-channel sums over samples and positions, in double.
        var sumScale = [Double](repeating: 0, count: c), sumShift = [Double](repeating: 0, count: c)
        let px0 = x0?.base
        for plane in 0..<planes {
          let ch = plane % c
          let grad = pg + plane * inner, y = py + plane * inner
          var ss = 0.0, sb = 0.0
          for i in 0..<inner where !relu || y[i] > 0 {
            sb += Double(grad[i])
            if let px0 { ss += Double(grad[i]) * Double(px0[plane * inner + i]) }
          }
          sumScale[ch] += ss
          sumShift[ch] += sb
        }
        if needScale { gs = Tensor(sumScale.map(Float.init), shape: [c]) }
        if needShift { gb = Tensor(sumShift.map(Float.init), shape: [c]) }
      }
      return [gx, gs, gb]
    }
  }
}
