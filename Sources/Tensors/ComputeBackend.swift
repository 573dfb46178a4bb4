import CBLAS

/// Where the tensor engine's matrix products run. Every convolution, transposed convolution,
/// linear layer and batched matmul — nearly all of a network's arithmetic — lowers to
/// `sgemm`; the rest (im2col/col2im, elementwise and fused passes, reductions) runs in redub's
/// own loops on the CPU. `Runtime.backend` is the one in use and is reported to the farm.
///
/// OpenBLAS is the backend this project builds and tests. What a CUDA backend must provide is
/// written in the README ("Compute backends"): more than this protocol, since tensors would
/// have to live in device memory for a GPU to pay off.
public protocol ComputeBackend: Sendable {
  /// A short name for logs and the farm ("openblas").
  var name: String { get }
  /// Version and build details (`redub info`).
  var details: String { get }
  /// Threads the backend's own kernels may use.
  func setThreads(_ count: Int)
  /// Row-major C = alpha·op(A)·op(B) + beta·C with op(A) M×K and op(B) K×N, on host buffers;
  /// leading dimensions in elements. Called with m, n, k > 0.
  func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int)
}

/// OpenBLAS's CBLAS interface (Debian's libopenblas, pthreads build).
public struct OpenBLASBackend: ComputeBackend {
  public init() {}

  public var name: String { "openblas" }

  public var details: String { String(cString: openblas_get_config()) }

  public func setThreads(_ count: Int) { openblas_set_num_threads(Int32(count)) }

  @inline(__always)
  public func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }
}
