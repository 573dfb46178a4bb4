import ArgumentParser
import Tensors

struct GEMMBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gemm", abstract: "GFLOP/s of OpenBLAS sgemm on square and StyleGAN2-shaped matrices.")

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var options: BenchOptions

  @Option(parsing: .upToNextOption, help: "Square sizes n (n×n times n×n).")
  var sizes: [Int] = [256, 512, 1024, 2048]

  func run() throws {
    runtime.apply()
    var report = BenchReport(columns: ["op", "m", "n", "k", "ms", "gflops"], json: options.json)
    var shapes = sizes.map { (m: $0, n: $0, k: $0) }
    // The im2col GEMMs of StyleGAN2's 3×3 convolutions (Cout × HW × 9·Cin).
    shapes += [(512, 256, 4608), (512, 4096, 4608), (256, 16384, 2304), (128, 65536, 1152)]
    for s in shapes {
      let seconds = measureGEMM(m: s.m, n: s.n, k: s.k, minTime: options.minTime)
      report.add(["op": "sgemm", "m": s.m, "n": s.n, "k": s.k, "ms": seconds * 1e3,
                  "gflops": 2 * Double(s.m * s.n * s.k) / seconds / 1e9, "threads": Runtime.threads])
    }
  }
}

/// Seconds for one m×k by k×n sgemm.
func measureGEMM(m: Int, n: Int, k: Int, minTime: Double) -> Double {
  let a = Tensor.randomUniform([m, k], seed: 1), b = Tensor.randomUniform([k, n], seed: 2)
  var c = Tensor(zeros: [m, n])
  return a.withUnsafeBufferPointer { pa in
    b.withUnsafeBufferPointer { pb in
      c.withUnsafeMutableBufferPointer { pc in
        fastestTime(minTime: minTime) {
          BLAS.gemm(m: m, n: n, k: k, a: pa.baseAddress!, lda: k, b: pb.baseAddress!, ldb: n, c: pc.baseAddress!, ldc: n)
        }
      }
    }
  }
}
