extension Tensor {
  /// Matrix product of the last two dims, with optional transposes folded into the GEMM
  /// (no copies). 2-D × 2-D, or batched `[B, M, K] × [B, K, N]`; a 2-D operand is shared
  /// across the batch.
  public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
    precondition(a.rank >= 2 && b.rank >= 2, "matmul of \(a.shape) and \(b.shape)")
    let (ar, ac) = (a.shape[-2], a.shape[-1])
    let (br, bc) = (b.shape[-2], b.shape[-1])
    let (m, k) = transposeA ? (ac, ar) : (ar, ac)
    let (k2, n) = transposeB ? (bc, br) : (br, bc)
    precondition(k == k2, "matmul inner dims differ: \(a.shape)\(transposeA ? "ᵀ" : "") × \(b.shape)\(transposeB ? "ᵀ" : "")")
    let batchA = a.count / (ar * ac), batchB = b.count / (br * bc)
    precondition(a.rank <= 3 && b.rank <= 3 && (batchA == batchB || batchA == 1 || batchB == 1),
                 "matmul batch of \(a.shape) and \(b.shape)")
    let batch = Swift.max(batchA, batchB)
    let outShape: Shape = (a.rank == 3 || b.rank == 3) ? [batch, m, n] : [m, n]
    let out = Tensor(uninitialized: outShape)
    for i in 0..<batch {
      sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
            a: a.base + (batchA == 1 ? 0 : i * ar * ac), lda: ac,
            b: b.base + (batchB == 1 ? 0 : i * br * bc), ldb: bc,
            c: out.base + i * m * n, ldc: n)
    }
    let a0 = a.detached(), b0 = b.detached()
    let needA = a.node != nil, needB = b.node != nil
    return record(out, inputs: [a, b]) { g in
      // dA = g·opBᵀ (or its transpose), dB = opAᵀ·g (or its transpose); a shared 2-D operand
      // sums its per-batch gradients.
      var ga: Tensor? = nil, gb: Tensor? = nil
      if needA {
        let d = transposeA ? matmul(b0, g, transposeA: transposeB, transposeB: true)
                           : matmul(g, b0, transposeA: false, transposeB: !transposeB)
        ga = (batchA == 1 && d.rank == 3) ? d.sum(axis: 0).reshaped(a0.shape) : d.reshaped(a0.shape)
      }
      if needB {
        let d = transposeB ? matmul(g, a0, transposeA: true, transposeB: transposeA)
                           : matmul(a0, g, transposeA: !transposeA, transposeB: false)
        gb = (batchB == 1 && d.rank == 3) ? d.sum(axis: 0).reshaped(b0.shape) : d.reshaped(b0.shape)
      }
      return [ga, gb]
    }
  }

  /// `x·Wᵀ + b` over the last dim of `x` (PyTorch's `nn.Linear`): weight is `[out, in]`.
  public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    let inFeatures = x.shape[-1]
    precondition(weight.rank == 2 && weight.shape[1] == inFeatures, "linear: input \(x.shape), weight \(weight.shape)")
    let rows = x.reshaped([x.count / inFeatures, inFeatures])
    var y = matmul(rows, weight, transposeB: true)
    if let bias { y = y + bias }
    return y.reshaped(Shape(Array(x.shape.dims.dropLast()) + [weight.shape[0]]))
  }
}
