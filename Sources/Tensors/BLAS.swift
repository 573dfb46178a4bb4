/// Row-major single-precision GEMM: C = alpha·op(A)·op(B) + beta·C, where op(A) is M×K and
/// op(B) is K×N. Leading dimensions are in elements.
@inline(__always)
func sgemm(
  transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
) {
  if m == 0 || n == 0 { return }
  if k == 0 {
    if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
    return
  }
  Runtime.backend.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                        a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
}

/// Public GEMM on raw buffers, for benchmarks and for code that manages its own layout.
public enum BLAS {
  public static func gemm(
    transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
          a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
  }

  /// The compute backend's configuration (OpenBLAS: version, kernel, threading).
  public static var configuration: String { Runtime.backend.details }
}
