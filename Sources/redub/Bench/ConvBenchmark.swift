import ArgumentParser
import Tensors

struct ConvBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "conv",
    abstract: "GFLOP/s of conv2d forward, gradient-to-input and gradient-to-weight at StyleGAN2's shapes.",
    discussion: """
      Each row also times sgemm on the convolution's own GEMM shape (Cout × H·W × 9·Cin) in the \
      same run and prints the ratio conv/sgemm, so rows stay comparable on a noisy machine.
      """)

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var options: BenchOptions

  @Option(parsing: .upToNextOption, help: "Batch sizes to measure.")
  var batches: [Int] = [1, 4]

  @Flag(help: "Only the two smallest shapes (a quick check).")
  var quick = false

  /// StyleGAN2's 3×3 layers: channels at resolution.
  static let shapes: [(channels: Int, size: Int)] = [(512, 16), (512, 64), (256, 128), (128, 256)]

  func run() throws {
    runtime.apply()
    var report = BenchReport(
      columns: ["pass", "batch", "channels", "size", "ms", "gflops", "sgemm_gflops", "ratio"], json: options.json)
    for shape in quick ? Array(Self.shapes.prefix(2)) : Self.shapes {
      let c = shape.channels, s = shape.size
      let sgemmSeconds = measureGEMM(m: c, n: s * s, k: 9 * c, minTime: options.minTime)
      let sgemmGFLOPs = 2 * Double(c * s * s * 9 * c) / sgemmSeconds / 1e9
      for batch in batches {
        let x = Tensor.randomNormal([batch, c, s, s], seed: 1)
        let w = Tensor.randomNormal([c, c, 3, 3], standardDeviation: 0.02, seed: 2)
        let gy = Tensor.randomNormal([batch, c, s, s], seed: 3)
        let flops = 2 * Double(batch * c * s * s * 9 * c)
        let passes: [(String, () -> Void)] = [
          ("forward", { _ = Tensor.conv2d(x, weight: w, padding: 1) }),
          ("grad_input", { _ = Tensor.conv2dBackwardInput(gy, weight: w, inputShape: x.shape, padding: 1) }),
          ("grad_weight", { _ = Tensor.conv2dBackwardWeight(gy, input: x, weightShape: w.shape, padding: 1) }),
        ]
        for (name, body) in passes {
          let seconds = fastestTime(minTime: options.minTime, body)
          let gflops = flops / seconds / 1e9
          report.add(["pass": name, "batch": batch, "channels": c, "size": s, "ms": seconds * 1e3,
                      "gflops": gflops, "sgemm_gflops": sgemmGFLOPs, "ratio": gflops / sgemmGFLOPs,
                      "threads": Runtime.threads])
        }
      }
    }
  }
}
