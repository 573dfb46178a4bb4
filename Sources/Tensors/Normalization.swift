import Foundation

extension Tensor {
  /// Softmax along `axis`.
  public func softmax(axis: Int = -1) -> Tensor {
    let out = Tensor.softmaxKernel(self, axis: shape.normalizedAxis(axis), log: false)
    return Tensor.record(out, input: self) { g in
      (g - (g * out).sum(axis: axis, keepDims: true)) * out
    }
  }

  /// log(softmax(x)) along `axis`, computed stably.
  public func logSoftmax(axis: Int = -1) -> Tensor {
    let out = Tensor.softmaxKernel(self, axis: shape.normalizedAxis(axis), log: true)
    return Tensor.record(out, input: self) { g in
      g - out.exp() * g.sum(axis: axis, keepDims: true)
    }
  }

  static func softmaxKernel(_ x: Tensor, axis: Int, log: Bool) -> Tensor {
    let n = x.shape.dims[axis]
    let inner = x.shape.dims[(axis + 1)...].reduce(1, *)
    let outer = x.shape.dims[..<axis].reduce(1, *)
    let out = Tensor(uninitialized: x.shape)
    let pin = x.base, pout = out.base
    Parallel.forRanges(outer * inner, grain: 1024) { lines in
      for line in lines {
        let o = line / inner, i = line % inner
        let src = pin + o * n * inner + i, dst = pout + o * n * inner + i
        var m = -Float.infinity
        for j in 0..<n { m = Swift.max(m, src[j * inner]) }
        var s: Float = 0
        for j in 0..<n { s += Foundation.exp(src[j * inner] - m) }
        if log {
          let l = m + Foundation.log(s)
          for j in 0..<n { dst[j * inner] = src[j * inner] - l }
        } else {
          for j in 0..<n { dst[j * inner] = Foundation.exp(src[j * inner] - m) / s }
        }
      }
    }
    return out
  }

  /// Layer normalization over the last `normalizedDims` dims, then `weight`/`bias` (shaped like
  /// those dims) when given. Matches `torch.nn.LayerNorm` (biased variance).
  public func layerNorm(normalizedDims: Int = 1, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) -> Tensor {
    let axes = Array((rank - normalizedDims)..<rank)
    let centered = self - mean(axes: axes, keepDims: true)
    var y = centered * (centered.squared().mean(axes: axes, keepDims: true) + eps).rsqrt()
    if let weight { y = y * weight }
    if let bias { y = y + bias }
    return y
  }

  /// Batch norm in inference form over channel axis 1 (running statistics, as in eval mode).
  public func batchNormInference(
    mean runningMean: Tensor, variance runningVar: Tensor, weight: Tensor?, bias: Tensor?, eps: Float = 1e-5
  ) -> Tensor {
    let c = shape[1]
    let channelShape = Shape([1, c] + [Int](repeating: 1, count: rank - 2))
    var scale = (runningVar.detached() + eps).rsqrt()
    if let weight { scale = scale * weight }
    var shift = runningMean.detached().negated() * scale
    if let bias { shift = shift + bias }
    return self * scale.reshaped(channelShape) + shift.reshaped(channelShape)
  }

  /// StyleGAN2's pixel norm: `x / sqrt(mean(x², axis 1) + 1e-8)`.
  public func pixelNorm(eps: Float = 1e-8) -> Tensor {
    self * (squared().mean(axis: 1, keepDims: true) + eps).rsqrt()
  }

  /// PReLU with one slope per channel (axis 1), or one shared slope when `slope` has one element.
  public func prelu(slope: Tensor) -> Tensor {
    let c = rank > 1 ? shape[1] : 1
    precondition(slope.count == 1 || slope.count == c, "prelu slope \(slope.shape) for input \(shape)")
    let inner = rank > 2 ? shape.dims[2...].reduce(1, *) : 1
    let perChannel = slope.count != 1
    let out = Tensor(uninitialized: shape)
    let px = base, pa = slope.base, po = out.base
    let channelOf: (Int) -> Int = { perChannel ? ($0 / inner) % c : 0 }
    Parallel.forRanges(count) { r in
      for i in r { let v = px[i]; po[i] = v > 0 ? v : pa[channelOf(i)] * v }
    }
    let x0 = detached(), a0 = slope.detached()
    return Tensor.record(out, inputs: [self, slope]) { g in
      let gx = Tensor(uninitialized: x0.shape)
      var ga = [Double](repeating: 0, count: a0.count)
      for i in 0..<x0.count {
        let v = x0.base[i], gi = g.base[i]
        if v > 0 { gx.base[i] = gi } else {
          let ch = channelOf(i)
          gx.base[i] = a0.base[ch] * gi
          ga[ch] += Double(gi * v)
        }
      }
      return [gx, Tensor(ga.map(Float.init), shape: a0.shape)]
    }
  }
}
