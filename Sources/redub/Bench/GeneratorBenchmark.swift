import ArgumentParser
import Foundation
import Networks
import Tensors

struct GeneratorBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "generator",
    abstract: "Seconds per image of the StyleGAN2 generator, forward and forward+backward to W+.",
    discussion: """
      Uses the reference architecture (config-f channels, style_dim 512, 8 mapping layers) with \
      seeded random weights; speed does not depend on the weights. Peak memory is the process's \
      maximum resident set size, so run one size and batch per invocation to read it.
      """)

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var options: BenchOptions

  @Option(help: "Output resolution (a power of two, 4…1024).")
  var size = 256

  @Option(help: "Frames per batch.")
  var batch = 4

  @Option(help: "Timed repetitions of each pass (the fastest is reported).")
  var repeats = 2

  func validate() throws {
    guard size >= 4, size <= 1024, size.nonzeroBitCount == 1 else { throw ValidationError("--size must be a power of two in 4…1024.") }
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1.") }
    guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1.") }
  }

  func run() throws {
    runtime.apply()
    let config = StyleGAN2Configuration(size: size)
    let generator = StyleGAN2Generator(config, seed: 1)
    for p in generator.parameters { p.requiresGradient = false }  // window optimization: weights frozen
    let latents = generator.truncate(generator.map(Tensor.randomNormal([batch, config.styleDim], seed: 2)), psi: 0.7)
      .unsqueezed(at: 1).broadcast(to: [batch, config.latentCount, config.styleDim])
    let clock = ContinuousClock()
    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
    var forward = Double.infinity, forwardBackward = Double.infinity
    for _ in 0..<repeats {
      forward = min(forward, seconds(clock.measure { _ = generator.synthesize(latents) }))
      forwardBackward = min(forwardBackward, seconds(clock.measure {
        let w = latents.requiringGradient()
        let image = generator.synthesize(w)
        _ = gradients(of: image.squared().mean(), wrt: [w])
      }))
    }
    let flops = Self.forwardFLOPs(config) * Double(batch)
    var report = BenchReport(
      columns: ["size", "batch", "forward_s_per_image", "forward_backward_s_per_image", "forward_gflops",
                "forward_backward_gflops", "peak_rss_bytes"], json: options.json)
    report.add([
      "size": size, "batch": batch, "threads": Runtime.threads,
      "forward_s_per_image": forward / Double(batch), "forward_backward_s_per_image": forwardBackward / Double(batch),
      // Backward to the input costs about twice the forward pass.
      "forward_gflops": flops / forward / 1e9, "forward_backward_gflops": 3 * flops / forwardBackward / 1e9,
      "peak_rss_bytes": peakResidentBytes(),
    ])
  }

  /// Multiply-adds ×2 of the convolutions of one image (the mapping network is negligible).
  static func forwardFLOPs(_ c: StyleGAN2Configuration) -> Double {
    var total = 0.0
    let c4 = Double(c.channels(at: 4))
    total += 2 * c4 * c4 * 9 * 16 + 2 * 3 * c4 * 16
    var inChannels = c4
    for r in c.resolutions.dropFirst() {
      let out = Double(c.channels(at: r)), pixels = Double(r * r), below = pixels / 4
      total += 2 * out * inChannels * 9 * below  // transposed 3×3 conv, stride 2
      total += 2 * out * out * 9 * pixels + 2 * 3 * out * pixels
      inChannels = out
    }
    return total
  }
}

/// The process's peak resident set size in bytes (Linux reports ru_maxrss in KiB).
func peakResidentBytes() -> Int {
  var usage = rusage()
  getrusage(RUSAGE_SELF.rawValue, &usage)
  return usage.ru_maxrss * 1024
}
