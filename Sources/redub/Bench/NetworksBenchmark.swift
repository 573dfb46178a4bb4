import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Networks
import Tensors

struct NetworksBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "networks",
    abstract: "Speed and memory of the face networks: LPIPS-VGG, FAN-4, S3FD, BiSeNet, e4e.",
    discussion: """
      LPIPS-VGG and FAN-4 at 256² are timed forward and forward+backward to the input (the \
      losses of the method differentiate through them with frozen weights); S3FD at 640×360, \
      BiSeNet at 512² and e4e at 256² forward only. GFLOP/s counts the convolutions' \
      multiply-adds ×2 (a backward pass to the input costs as much as the forward), and is compared \
      with sgemm's GFLOP/s on a conv-sized GEMM (256 × 4096 × 2304) timed just before each network. \
      Memory: the growth of resident memory over the loaded network during the pass (peak, via \
      /proc/self/clear_refs) against the bytes of all convolution outputs. Weights are seeded \
      random; speed does not depend on them.
      """)

  enum Kind: String, CaseIterable, ExpressibleByArgument {
    case lpips, fan, s3fd, bisenet, e4e
  }

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var options: BenchOptions

  @Option(parsing: .upToNextOption, help: "Networks to measure (lpips fan s3fd bisenet e4e).")
  var networks: [Kind] = Kind.allCases

  func run() throws {
    runtime.apply()
    var report = BenchReport(
      columns: ["network", "input", "pass", "ms", "gflop", "gflops", "sgemm_gflops", "ratio", "activation_mb",
                "peak_growth_mb", "memory_ratio"],
      json: options.json)
    for kind in networks {
      let (input, forward, backward) = Self.workload(kind)
      let inputText = "\(input.shape[2])x\(input.shape[3])"
      var passes: [(String, () -> Void)] = [("forward", { forward(input) })]
      if let backward { passes.append(("forward_backward", { backward(input) })) }
      // sgemm is timed next to each network, so a load spike on a shared machine skews both.
      let sgemmSeconds = measureGEMM(m: 256, n: 4096, k: 2304, minTime: options.minTime)
      let sgemmGFLOPs = 2 * Double(256 * 4096 * 2304) / sgemmSeconds / 1e9
      for (pass, body) in passes {
        // One counted, memory-measured run, then the timed ones.
        let tally = ConvolutionTally()
        let memory = PeakMemory.growth { NetworkProfiling.$tally.withValue(tally) { body() } }
        let flops = tally.flops * (pass == "forward" ? 1 : 2)
        let seconds = fastestTime(minTime: options.minTime, body)
        let gflops = flops / seconds / 1e9
        var row: [String: Any] = [
          "network": kind.rawValue, "input": inputText, "pass": pass, "ms": seconds * 1e3, "gflop": flops / 1e9,
          "gflops": gflops, "sgemm_gflops": sgemmGFLOPs, "ratio": gflops / sgemmGFLOPs,
          "activation_mb": Double(tally.outputBytes) / 1e6, "threads": Runtime.threads,
        ]
        if let memory {
          row["peak_growth_mb"] = Double(memory) / 1e6
          row["memory_ratio"] = Double(memory) / Double(max(1, tally.outputBytes))
        }
        report.add(row)
      }
    }
  }

  /// The network's input and its passes, with seeded random weights.
  static func workload(_ kind: Kind) -> (input: Tensor, forward: (Tensor) -> Void, backward: ((Tensor) -> Void)?) {
    switch kind {
    case .lpips:
      let lpips = randomized(LPIPS(trunk: .vgg))
      let other = Tensor.randomUniform([1, 3, 256, 256], in: -1...1, seed: 7)
      return (Tensor.randomUniform([1, 3, 256, 256], in: -1...1, seed: 6),
              { _ = lpips.distance($0, other) },
              { x in
                let leaf = x.requiringGradient()
                _ = gradients(of: lpips.distance(leaf, other).sum(), wrt: [leaf])
              })
    case .fan:
      let fan = randomized(FAN(modules: 4))
      return (Tensor.randomUniform([1, 3, 256, 256], seed: 6),
              { _ = fan.heatmaps($0) },
              { x in
                let leaf = x.requiringGradient()
                _ = gradients(of: fan.heatmaps(leaf).squared().sum(), wrt: [leaf])
              })
    case .s3fd:
      let s3fd = randomized(S3FD())
      return (S3FD.preprocess(rgb: Tensor.randomUniform([1, 3, 360, 640], in: 0...255, seed: 6)), { _ = s3fd.heads($0) }, nil)
    case .bisenet:
      let net = randomized(BiSeNet())
      return (Tensor.randomNormal([1, 3, 512, 512], seed: 6), { _ = net.logits($0) }, nil)
    case .e4e:
      let encoder = randomized(E4EEncoder(generatorSize: 1024))
      return (Tensor.randomUniform([1, 3, 256, 256], in: -1...1, seed: 6), { _ = encoder.codes($0) }, nil)
    }
  }

  /// Weights of every conv and linear layer drawn with deviation 1/√fan-in (batch norms stay
  /// the identity), so activations keep their scale through the deep networks.
  static func randomized<L: Layer>(_ layer: L) -> L {
    for (i, p) in layer.parameters.enumerated() where p.shape.rank >= 2 {
      let fanIn = p.shape.dims.dropFirst().reduce(1, *)
      p.value = Tensor.randomNormal(p.shape, standardDeviation: 1 / Float(fanIn).squareRoot(), seed: UInt64(i + 1))
    }
    return layer
  }
}

/// Peak resident-memory growth during a closure, from Linux's VmHWM (reset through
/// /proc/self/clear_refs); nil where that is not available. Free heap memory is handed back to
/// the system first (`malloc_trim`), so memory freed by earlier passes does not hide this one's.
enum PeakMemory {
  static func growth(_ body: () -> Void) -> Int? {
    trimHeap()
    guard let clear = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else {
      body()
      return nil
    }
    defer { try? clear.close() }
    guard (try? clear.write(contentsOf: Data("5".utf8))) != nil, let before = status("VmRSS") else {
      body()
      return nil
    }
    body()
    guard let peak = status("VmHWM") else { return nil }
    return max(0, peak - before)
  }

  /// glibc's `malloc_trim(0)` (not in the Glibc module map, so looked up by name).
  static func trimHeap() {
    #if canImport(Glibc)
    typealias Trim = @convention(c) (Int) -> Int32
    if let symbol = dlsym(nil, "malloc_trim") { _ = unsafeBitCast(symbol, to: Trim.self)(0) }
    #endif
  }

  /// A /proc/self/status field in bytes.
  static func status(_ field: String) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
      let parts = line.split(separator: " ", omittingEmptySubsequences: true)
      if parts.count >= 2, let kb = Int(parts[1]) { return kb * 1024 }
    }
    return nil
  }
}
