/// Strided iteration shared by the broadcasting binary ops and the reductions: dims are
/// aligned to the output's rank and runs of dims that are contiguous for every operand
/// are merged, so the inner loop is as long as possible.
struct StridedLayout {
  var dims: [Int]
  var strides: [[Int]]  // one array per operand

  init(dims: [Int], strides: [[Int]]) {
    // Drop size-1 dims, then merge neighbours that are contiguous for all operands.
    var d: [Int] = []
    var s: [[Int]] = strides.map { _ in [] }
    for i in dims.indices where dims[i] != 1 {
      if let last = d.indices.last,
        strides.indices.allSatisfy({ s[$0][last] == strides[$0][i] * dims[i] })
      {
        d[last] *= dims[i]
        for k in strides.indices { s[k][last] = strides[k][i] }
      } else {
        d.append(dims[i])
        for k in strides.indices { s[k].append(strides[k][i]) }
      }
    }
    if d.isEmpty {
      d = [1]
      s = strides.map { _ in [0] }
    }
    self.dims = d
    self.strides = s
  }

  /// Strides of a tensor of `shape` seen through a broadcast to `target` (0 on broadcast dims).
  static func broadcastStrides(of shape: Shape, to target: Shape) -> [Int] {
    let offset = target.rank - shape.rank
    let own = shape.strides
    return (0..<target.rank).map { i in
      i < offset || shape.dims[i - offset] == 1 ? 0 : own[i - offset]
    }
  }

  var innerCount: Int { dims[dims.count - 1] }
  var outerCount: Int { dims.dropLast().reduce(1, *) }

  /// Start offset of outer row `row` for operand `k`.
  @inline(__always)
  func offset(ofRow row: Int, operand k: Int) -> Int {
    var rest = row
    var result = 0
    let s = strides[k]
    for i in stride(from: dims.count - 2, through: 0, by: -1) {
      let idx = rest % dims[i]
      rest /= dims[i]
      result += idx * s[i]
    }
    return result
  }
}

extension Tensor {
  /// Elementwise `f(a, b)` with NumPy broadcasting.
  @inline(__always)
  static func broadcastMap(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    if a.shape == b.shape {
      let out = Tensor(uninitialized: a.shape)
      let pa = a.base, pb = b.base, po = out.base
      Parallel.forRanges(a.count) { r in
        for i in r { po[i] = f(pa[i], pb[i]) }
      }
      return out
    }
    guard let shape = Shape.broadcast(a.shape, b.shape) else {
      preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let out = Tensor(uninitialized: shape)
    let layout = StridedLayout(
      dims: shape.dims,
      strides: [
        StridedLayout.broadcastStrides(of: a.shape, to: shape),
        StridedLayout.broadcastStrides(of: b.shape, to: shape),
      ])
    let n = layout.innerCount
    let sa = layout.strides[0].last!, sb = layout.strides[1].last!
    let pa = a.base, pb = b.base, po = out.base
    let rows = layout.outerCount
    Parallel.forRanges(rows, grain: max(1, 32_768 / n)) { range in
      for row in range {
        let xa = pa + layout.offset(ofRow: row, operand: 0)
        let xb = pb + layout.offset(ofRow: row, operand: 1)
        let xo = po + row * n
        switch (sa, sb) {
        case (1, 1): for i in 0..<n { xo[i] = f(xa[i], xb[i]) }
        case (1, 0): let v = xb[0]; for i in 0..<n { xo[i] = f(xa[i], v) }
        case (0, 1): let v = xa[0]; for i in 0..<n { xo[i] = f(v, xb[i]) }
        default: for i in 0..<n { xo[i] = f(xa[i * sa], xb[i * sb]) }
        }
      }
    }
    return out
  }

  /// Elementwise `f(x)`.
  @inline(__always)
  func map(_ f: (Float) -> Float) -> Tensor {
    let out = Tensor(uninitialized: shape)
    let p = base, po = out.base
    Parallel.forRanges(count) { r in
      for i in r { po[i] = f(p[i]) }
    }
    return out
  }

  /// Elementwise `f(x, y)` of two tensors of the same shape.
  @inline(__always)
  func zipMap(_ other: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
    precondition(shape == other.shape, "shapes \(shape) and \(other.shape) differ")
    return Tensor.broadcastMap(self, other, f)
  }

  /// Sums a broadcast gradient back down to `target` (the shape of the op's input).
  func sumToShape(_ target: Shape) -> Tensor {
    if shape == target { return self }
    let offset = rank - target.rank
    precondition(offset >= 0, "cannot reduce \(shape) to \(target)")
    var axes: [Int] = Array(0..<offset)
    for i in 0..<target.rank where target.dims[i] == 1 && shape.dims[i + offset] != 1 {
      axes.append(i + offset)
    }
    return sum(axes: axes, keepDims: true).reshaped(target)
  }
}
