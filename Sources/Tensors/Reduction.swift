extension Tensor {
  /// Sum over `axes` (negative axes count from the end). With `keepDims` the reduced axes
  /// stay as size 1, so the result broadcasts against the input.
  public func sum(axes: [Int], keepDims: Bool = false) -> Tensor {
    let axisSet = Set(axes.map { shape.normalizedAxis($0) })
    var kept = shape.dims
    for a in axisSet { kept[a] = 1 }
    let keptShape = Shape(kept)
    let out = Tensor.reduceSum(self, to: keptShape, reduced: axisSet)
    let result = keepDims ? out : out.sharingStorage(shape: Shape(shape.dims.enumerated().filter { !axisSet.contains($0.offset) }.map(\.element)))
    let inputShape = shape
    return Tensor.record(result, input: self) { g in
      g.reshaped(keptShape).broadcast(to: inputShape)
    }
  }

  public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

  /// Sum of all elements, as a scalar tensor.
  public func sum() -> Tensor {
    let total = Tensor.sumAll(self)
    let inputShape = shape
    return Tensor.record(Tensor(scalar: total), input: self) { g in
      Tensor(repeating: g.item(), shape: inputShape)
    }
  }

  public func mean(axes: [Int], keepDims: Bool = false) -> Tensor {
    let n = axes.map { shape[$0] }.reduce(1, *)
    return sum(axes: axes, keepDims: keepDims) * (1 / Float(n))
  }

  public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

  public func mean() -> Tensor { sum() * (1 / Float(Swift.max(count, 1))) }

  /// Copies this tensor along its size-1 (or missing leading) dims to `target`.
  public func broadcast(to target: Shape) -> Tensor {
    if shape == target { return self }
    let out = Tensor.broadcastMap(Tensor(zeros: target), self) { _, b in b }
    let inputShape = shape
    return Tensor.record(out, input: self) { g in g.sumToShape(inputShape) }
  }

  // MARK: Kernels

  /// Sum of all elements, accumulated in double precision in parallel blocks.
  static func sumAll(_ t: Tensor) -> Float {
    let p = t.base
    let blocks = Swift.max(1, Swift.min(64, t.count / 65_536))
    let partial = UnsafeMutablePointer<Double>.allocate(capacity: blocks)
    defer { partial.deallocate() }
    let chunk = (t.count + blocks - 1) / blocks
    Parallel.forEach(blocks) { b in
      var s: Double = 0
      var local: Float = 0
      let lo = b * chunk, hi = Swift.min(t.count, lo + chunk)
      var i = lo
      // Float partial sums of 256 elements keep the inner loop vectorizable.
      while i < hi {
        let end = Swift.min(hi, i + 256)
        local = 0
        for j in i..<end { local += p[j] }
        s += Double(local)
        i = end
      }
      partial[b] = s
    }
    var total: Double = 0
    for b in 0..<blocks { total += partial[b] }
    return Float(total)
  }

  /// Sums `t` into a tensor of `keptShape` (same rank, 1 on the `reduced` axes).
  static func reduceSum(_ t: Tensor, to keptShape: Shape, reduced: Set<Int>) -> Tensor {
    let outCount = keptShape.count
    let acc = UnsafeMutablePointer<Double>.allocate(capacity: Swift.max(outCount, 1))
    acc.initialize(repeating: 0, count: outCount)
    defer { acc.deallocate() }
    let layout = StridedLayout(
      dims: t.shape.dims,
      strides: [t.shape.strides, StridedLayout.broadcastStrides(of: keptShape, to: t.shape)])
    let n = layout.innerCount
    let outStride = layout.strides[1].last!
    let pin = t.base
    // Rows are walked in input order: each inner run either sums into one output (reduced
    // axis innermost) or adds a contiguous run of outputs (kept axis innermost).
    for row in 0..<layout.outerCount {
      let xi = pin + layout.offset(ofRow: row, operand: 0)
      let xo = acc + layout.offset(ofRow: row, operand: 1)
      if outStride == 0 {
        var s: Float = 0
        var k = 0
        var total: Double = 0
        while k < n {
          let end = Swift.min(n, k + 256)
          s = 0
          for j in k..<end { s += xi[j] }
          total += Double(s)
          k = end
        }
        xo[0] += total
      } else {
        for j in 0..<n { xo[j * outStride] += Double(xi[j]) }
      }
    }
    let out = Tensor(uninitialized: keptShape)
    for i in 0..<outCount { out.base[i] = Float(acc[i]) }
    return out
  }
}
