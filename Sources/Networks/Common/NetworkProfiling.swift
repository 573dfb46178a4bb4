import Synchronization
import Tensors

/// Counts the work of the convolutions a network runs, for benchmarks: multiply-adds ×2 and
/// the float32 bytes of their outputs (the bulk of a conv net's activations).
///
///     let tally = ConvolutionTally()
///     NetworkProfiling.$tally.withValue(tally) { _ = fan.heatmaps(x) }
///     print(tally.flops, tally.outputBytes)
public final class ConvolutionTally: Sendable {
  private let state = Mutex<(flops: Double, outputBytes: Int, calls: Int)>((0, 0, 0))

  public init() {}

  public var flops: Double { state.withLock { $0.flops } }
  public var outputBytes: Int { state.withLock { $0.outputBytes } }
  public var calls: Int { state.withLock { $0.calls } }

  func record(weight: Shape, output: Shape) {
    let flops = 2 * Double(output.count) * Double(weight[1] * weight[2] * weight[3])
    state.withLock {
      $0.flops += flops
      $0.outputBytes += 4 * output.count
      $0.calls += 1
    }
  }
}

public enum NetworkProfiling {
  /// The tally the networks' convolutions add to in this task, if any.
  @TaskLocal public static var tally: ConvolutionTally?
}
