// Fused ops for style-modulated convolutions (StyleGAN2): a convolution whose input is scaled
// per sample and channel, and the activation that follows it (demodulation, noise injection,
// bias, leaky ReLU). Built from separate ops, each of these costs several full passes over
// the activations and keeps an intermediate per pass for the backward pass; fused, the scale
// rides along with the copy the convolution needs anyway and the tail is one pass each way.

extension Tensor {
  /// `conv2d(x · scale[n, c], weight)` (stride 1, no bias): `x` [N, Cin, H, W], `inputScale`
  /// [N, Cin], `weight` [Cout, Cin, kh, kw]. Differentiable in all three.
  public static func conv2d(_ x: Tensor, inputScale: Tensor, weight: Tensor, padding: Int = 0) -> Tensor {
    let g = ConvGeometry(input: x.shape, weight: weight.shape, stride: 1, padding: ConvPadding(padding), groups: 1,
                         op: "conv2d(inputScale:)")
    precondition(inputScale.shape == [g.batch, g.inChannels],
                 "conv2d(inputScale:): scale must be [\(g.batch), \(g.inChannels)], got \(inputScale.shape)")
    let xs = scalePlanes(x, by: inputScale)
    let out = Tensor(uninitialized: g.outputShape)
    convForward(g, input: xs.base, weight: weight.base, bias: nil, output: out.base)

    let needInput = x.node != nil, needScale = inputScale.node != nil, needWeight = weight.node != nil
    let x0: Tensor? = needScale ? x.detached() : nil
    let s0 = inputScale.detached(), w0 = weight.detached()
    let xs0: Tensor? = needWeight ? xs : nil  // the scaled input, only for the weight gradient
    return record(out, inputs: [x, inputScale, weight]) { gradOut in
      var grads: [Tensor?] = [nil, nil, nil]
      if needInput || needScale {
        let gxs = Tensor(uninitialized: g.inputShape)
        convBackwardInput(g, gradOutput: gradOut.base, weight: w0.base, gradInput: gxs.base)
        (grads[0], grads[1]) = scalePlanesBackward(gxs, input: x0, scale: s0, needInput: needInput)
      }
      if needWeight, let xs0 {
        let gw = Tensor(uninitialized: g.weightShape)
        convBackwardWeight(g, gradOutput: gradOut.base, input: xs0.base, gradWeight: gw.base)
        grads[2] = gw
      }
      return grads
    }
  }

  /// `conv2dTransposed(x · scale[n, c], weight, stride)` (no padding, no bias): `x`
  /// [N, Cin, H, W], `inputScale` [N, Cin], `weight` [Cin, Cout, kh, kw]. Differentiable in all three.
  public static func conv2dTransposed(_ x: Tensor, inputScale: Tensor, weight: Tensor, stride: Int) -> Tensor {
    let g = transposedGeometry(x, weight: weight, stride: stride, padding: 0, outputPadding: 0)
    precondition(inputScale.shape == [x.shape[0], x.shape[1]],
                 "conv2dTransposed(inputScale:): scale must be [\(x.shape[0]), \(x.shape[1])], got \(inputScale.shape)")
    let xs = scalePlanes(x, by: inputScale)
    let out = Tensor(uninitialized: g.inputShape)
    convBackwardInput(g, gradOutput: xs.base, weight: weight.base, gradInput: out.base)

    let needInput = x.node != nil, needScale = inputScale.node != nil, needWeight = weight.node != nil
    let x0: Tensor? = needScale ? x.detached() : nil
    let s0 = inputScale.detached(), w0 = weight.detached()
    let xs0: Tensor? = needWeight ? xs : nil
    let inputShape = x.shape
    return record(out, inputs: [x, inputScale, weight]) { gradOut in
      var grads: [Tensor?] = [nil, nil, nil]
      if needInput || needScale {
        let gxs = Tensor(uninitialized: inputShape)
        convForward(g, input: gradOut.base, weight: w0.base, bias: nil, output: gxs.base)
        (grads[0], grads[1]) = scalePlanesBackward(gxs, input: x0, scale: s0, needInput: needInput)
      }
      if needWeight, let xs0 {
        let gw = Tensor(uninitialized: w0.shape)
        convBackwardWeight(g, gradOutput: xs0.base, input: gradOut.base, gradWeight: gw.base)
        grads[2] = gw
      }
      return grads
    }
  }

  /// `x · scale[n, c]` over the planes of an [N, C, ...] tensor; builds no graph.
  static func scalePlanes(_ x: Tensor, by scale: Tensor) -> Tensor {
    let planes = scale.count, inner = planes == 0 ? 0 : x.count / planes
    let out = Tensor(uninitialized: x.shape)
    let px = x.base, ps = scale.base, po = out.base
    Parallel.forRanges(planes, grain: Swift.max(1, 32_768 / Swift.max(1, inner))) { range in
      for p in range {
        let a = ps[p], src = px + p * inner, dst = po + p * inner
        for i in 0..<inner { dst[i] = src[i] * a }
      }
    }
    return out
  }

  /// From `gxs` = ∂L/∂(x·s): ∂L/∂x = gxs·s (written over `gxs`, which the caller owns) and
  /// ∂L/∂s[n, c] = Σ gxs·x (when `x` is given), accumulated in double.
  static func scalePlanesBackward(
    _ gxs: Tensor, input x: Tensor?, scale: Tensor, needInput: Bool
  ) -> (Tensor?, Tensor?) {
    let planes = scale.count, inner = planes == 0 ? 0 : gxs.count / planes
    let gs: Tensor? = x == nil ? nil : Tensor(uninitialized: scale.shape)
    let pg = gxs.base, ps = scale.base, px = x?.base, pgs = gs?.base
    Parallel.forRanges(planes, grain: Swift.max(1, 32_768 / Swift.max(1, inner))) { range in
      for p in range {
        let grad = pg + p * inner
        if let px, let pgs { pgs[p] = dot(grad, px + p * inner, inner) }
        if needInput {
          let a = ps[p]
          for i in 0..<inner { grad[i] *= a }
        }
      }
    }
    return (needInput ? gxs : nil, gs)
  }

  /// Σ a[i]·b[i] in float blocks of 256 summed in double (vectorizable and accurate).
  @inline(__always) static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var total = 0.0
    var i = 0
    while i < n {
      let end = Swift.min(n, i + 256)
      var block: Float = 0
      for k in i..<end { block += a[k] * b[k] }
      total += Double(block)
      i = end
    }
    return Float(total)
  }

  /// StyleGAN2's styled-convolution tail in one pass:
  /// `leakyReLU(x·demodulation[n, c] + noiseWeight·noise + bias[c], slope)·gain`.
  /// `x` [N, C, ...], `demodulation` [N, C] (or nil: 1), `noise` [N or 1, 1, ...] (x's spatial
  /// size) with `noiseWeight` [1] (or both nil), `bias` [C]. Differentiable in every input.
  /// The backward pass keeps only the inputs and recomputes the pre-activation.
  public static func styledActivation(
    _ x: Tensor, demodulation: Tensor? = nil, noise: Tensor? = nil, noiseWeight: Tensor? = nil, bias: Tensor,
    slope: Float = 0.2, gain: Float = Float(2).squareRoot()
  ) -> Tensor {
    precondition(x.rank >= 2, "styledActivation: input must be [N, C, ...], got \(x.shape)")
    let (n, c) = (x.shape[0], x.shape[1])
    let planes = n * c, inner = planes == 0 ? 0 : x.count / planes
    precondition(bias.shape == [c], "styledActivation: bias must be [\(c)], got \(bias.shape)")
    if let demodulation {
      precondition(demodulation.shape == [n, c], "styledActivation: demodulation must be [\(n), \(c)], got \(demodulation.shape)")
    }
    precondition((noise == nil) == (noiseWeight == nil), "styledActivation: noise and noiseWeight go together")
    var noiseBatch = 0
    if let noise, let noiseWeight {
      noiseBatch = noise.shape[0]
      precondition(noise.rank == x.rank && (noiseBatch == 1 || noiseBatch == n) && noise.shape[1] == 1
                   && Array(noise.shape.dims.dropFirst(2)) == Array(x.shape.dims.dropFirst(2)),
                   "styledActivation: noise must be [1 or \(n), 1, spatial of \(x.shape)], got \(noise.shape)")
      precondition(noiseWeight.count == 1, "styledActivation: noiseWeight must have one element, got \(noiseWeight.shape)")
    }
    var tail = ActivationTail(
      channels: c, inner: inner, noiseBatch: noiseBatch, slope: slope, gain: gain,
      noiseWeight: noiseWeight?.base[0] ?? 0, x: x.detached(), demodulation: demodulation?.detached(),
      noise: noise?.detached(), bias: bias.detached())
    if let noiseWeight { tail.noiseWeightShape = noiseWeight.shape }
    let out = Tensor(uninitialized: x.shape)
    let po = out.base
    Parallel.forRanges(planes, grain: Swift.max(1, 16_384 / Swift.max(1, inner))) { range in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: ActivationTail.block) { scratch in
        for p in range {
          tail.forEachBlock(plane: p, scratch: scratch.baseAddress!) { start, count, pre in
            let dst = po + p * inner + start, neg = tail.negativeGain
            for i in 0..<count { dst[i] = pre[i] >= 0 ? pre[i] * gain : pre[i] * neg }
          }
        }
      }
    }

    var inputs = [x, bias]
    if let demodulation { inputs.append(demodulation) }
    if let noise, let noiseWeight { inputs += [noise, noiseWeight] }
    let need = inputs.map { $0.node != nil }
    return record(out, inputs: inputs) { gradOut in
      let grads = tail.backward(gradOut, planes: planes, batch: n, needInput: need[0], needBias: need[1],
                                needDemodulation: demodulation != nil && need[2],
                                needNoise: noise != nil && need[need.count - 2],
                                needNoiseWeight: noise != nil && need[need.count - 1])
      var result: [Tensor?] = [grads.input, grads.bias]
      if demodulation != nil { result.append(grads.demodulation) }
      if noise != nil { result += [grads.noise, grads.noiseWeight] }
      return result
    }
  }
}

/// The detached operands of `styledActivation`, and its pre-activation recomputed in blocks.
struct ActivationTail: Sendable {
  static let block = 256
  let channels: Int, inner: Int, noiseBatch: Int
  let slope: Float, gain: Float, noiseWeight: Float
  let x: Tensor, demodulation: Tensor?, noise: Tensor?, bias: Tensor
  var noiseWeightShape: Shape = [1]
  var negativeGain: Float { slope * gain }

  init(channels: Int, inner: Int, noiseBatch: Int, slope: Float, gain: Float, noiseWeight: Float,
       x: Tensor, demodulation: Tensor?, noise: Tensor?, bias: Tensor) {
    (self.channels, self.inner, self.noiseBatch) = (channels, inner, noiseBatch)
    (self.slope, self.gain, self.noiseWeight) = (slope, gain, noiseWeight)
    (self.x, self.demodulation, self.noise, self.bias) = (x, demodulation, noise, bias)
  }

  /// Calls `body(start, count, pre)` for consecutive blocks of plane `p`, with the
  /// pre-activation x·d + w·noise + b of those elements in `pre` (the scratch buffer).
  @inline(__always)
  func forEachBlock(plane p: Int, scratch pre: UnsafeMutablePointer<Float>,
                    _ body: (Int, Int, UnsafeMutablePointer<Float>) -> Void) {
    let a = demodulation.map { $0.base[p] } ?? 1, b = bias.base[p % channels], w = noiseWeight
    let src = x.base + p * inner
    let noisePlane = noise.map { $0.base + (noiseBatch == 1 ? 0 : p / channels) * inner }
    var start = 0
    while start < inner {
      let count = Swift.min(Self.block, inner - start)
      let s = src + start
      if let noisePlane {
        let z = noisePlane + start
        for i in 0..<count { pre[i] = s[i] * a + w * z[i] + b }
      } else {
        for i in 0..<count { pre[i] = s[i] * a + b }
      }
      body(start, count, pre)
      start += count
    }
  }

  /// Turns the pre-activations in `pre` into their gradients, given the output gradient `g`.
  @inline(__always)
  func preGradient(_ pre: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, _ count: Int) {
    let neg = negativeGain
    for i in 0..<count { pre[i] = pre[i] >= 0 ? g[i] * gain : g[i] * neg }
  }

  func backward(
    _ gradOut: Tensor, planes: Int, batch: Int, needInput: Bool, needBias: Bool, needDemodulation: Bool,
    needNoise: Bool, needNoiseWeight: Bool
  ) -> (input: Tensor?, bias: Tensor?, demodulation: Tensor?, noise: Tensor?, noiseWeight: Tensor?) {
    let inner = self.inner
    let gx: Tensor? = needInput ? Tensor(uninitialized: x.shape) : nil
    // Per-plane sums: of the pre-activation gradient (bias), of it times x (demodulation) and
    // times the noise (noise weight).
    let sums = UnsafeMutablePointer<Double>.allocate(capacity: 3 * Swift.max(planes, 1))
    defer { sums.deallocate() }
    let pg = gradOut.base, pgx = gx?.base
    let needSums = needBias || needDemodulation || needNoiseWeight
    Parallel.forRanges(planes, grain: Swift.max(1, 16_384 / Swift.max(1, inner))) { range in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.block) { scratch in
        for p in range {
          let a = demodulation.map { $0.base[p] } ?? 1
          let src = x.base + p * inner
          let noisePlane = noise.map { $0.base + (noiseBatch == 1 ? 0 : p / channels) * inner }
          var sumBias = 0.0, sumDemodulation = 0.0, sumNoise = 0.0
          forEachBlock(plane: p, scratch: scratch.baseAddress!) { start, count, pre in
            preGradient(pre, pg + p * inner + start, count)
            if let pgx {
              let dst = pgx + p * inner + start
              for i in 0..<count { dst[i] = pre[i] * a }
            }
            if needSums {
              var sb: Float = 0
              for i in 0..<count { sb += pre[i] }
              sumBias += Double(sb)
              if needDemodulation {
                let s = src + start
                var sd: Float = 0
                for i in 0..<count { sd += pre[i] * s[i] }
                sumDemodulation += Double(sd)
              }
              if needNoiseWeight, let noisePlane {
                let z = noisePlane + start
                var sn: Float = 0
                for i in 0..<count { sn += pre[i] * z[i] }
                sumNoise += Double(sn)
              }
            }
          }
          sums[3 * p] = sumBias
          sums[3 * p + 1] = sumDemodulation
          sums[3 * p + 2] = sumNoise
        }
      }
    }
    var gb: Tensor? = nil, gd: Tensor? = nil, gnw: Tensor? = nil, gnoise: Tensor? = nil
    if needBias {
      var totals = [Double](repeating: 0, count: channels)
      for p in 0..<planes { totals[p % channels] += sums[3 * p] }
      gb = Tensor(totals.map { Float($0) }, shape: [channels])
    }
    if needDemodulation {
      gd = Tensor((0..<planes).map { Float(sums[3 * $0 + 1]) }, shape: demodulation!.shape)
    }
    if needNoiseWeight {
      gnw = Tensor([Float((0..<planes).reduce(0.0) { $0 + sums[3 * $1 + 2] })], shape: noiseWeightShape)
    }
    if needNoise, let noise {
      // ∂L/∂noise sums over channels (and over samples when one noise map serves all), so it
      // runs over pixel ranges instead of planes.
      let result = Tensor(zeros: noise.shape)
      let pr = result.base, w = noiseWeight
      let samplesPerNoise = noiseBatch == 1 ? batch : 1
      Parallel.forRanges(noiseBatch * inner, grain: 4_096) { range in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: Self.block) { scratch in
          let pre = scratch.baseAddress!
          var i = range.lowerBound
          while i < range.upperBound {
            let k = i / inner, start = i % inner
            let count = Swift.min(Self.block, inner - start, range.upperBound - i)
            for sample in 0..<samplesPerNoise {
              let n = noiseBatch == 1 ? sample : k
              for ch in 0..<channels {
                let p = n * channels + ch
                let a = demodulation.map { $0.base[p] } ?? 1, b = bias.base[ch]
                let s = x.base + p * inner + start, z = noise.base + k * inner + start
                for t in 0..<count { pre[t] = s[t] * a + w * z[t] + b }
                preGradient(pre, pg + p * inner + start, count)
                let dst = pr + k * inner + start
                for t in 0..<count { dst[t] += pre[t] * w }
              }
            }
            i += count
          }
        }
      }
      gnoise = result
    }
    return (gx, gb, gd, gnoise, gnw)
  }
}
