import Dispatch
import Foundation
import Synchronization

/// How many threads redub's own loops and OpenBLAS use. Set once at start-up
/// (`--threads` / `REDUB_THREADS`); defaults to every core.
public enum Runtime {
  private static let threadCount = Atomic<Int>(defaultThreadCount())

  public static var threads: Int { threadCount.load(ordering: .relaxed) }

  /// The backend matrix products run on (see `ComputeBackend`).
  public static let backend: any ComputeBackend = OpenBLASBackend()

  /// Sets the thread count for our loops and for OpenBLAS.
  public static func setThreads(_ n: Int) {
    let n = max(1, n)
    threadCount.store(n, ordering: .relaxed)
    backend.setThreads(n)
  }

  /// REDUB_THREADS when it is a positive integer, otherwise the number of active cores.
  public static func defaultThreadCount() -> Int {
    if let text = ProcessInfo.processInfo.environment["REDUB_THREADS"], let n = Int(text), n > 0 {
      return n
    }
    return ProcessInfo.processInfo.activeProcessorCount
  }
}

enum Parallel {
  /// Runs `body` over `0..<count` split into contiguous chunks, on up to `Runtime.threads`
  /// threads; small ranges (below `grain` elements per thread) run inline.
  @inline(__always)
  static func forRanges(_ count: Int, grain: Int = 32_768, _ body: (Range<Int>) -> Void) {
    let threads = min(Runtime.threads, max(1, count / max(grain, 1)))
    if threads <= 1 {
      if count > 0 { body(0..<count) }
      return
    }
    let chunk = (count + threads - 1) / threads
    withoutActuallyEscaping(body) { body in
      let job = UncheckedSendable(body)
      DispatchQueue.concurrentPerform(iterations: threads) { t in
        let lo = t * chunk
        let hi = min(count, lo + chunk)
        if lo < hi { job.value(lo..<hi) }
      }
    }
  }

  /// Runs `body(i)` for each `i` in `0..<count` across threads (each index is a sizeable job).
  @inline(__always)
  static func forEach(_ count: Int, _ body: (Int) -> Void) {
    let threads = min(Runtime.threads, count)
    if threads <= 1 {
      for i in 0..<count { body(i) }
      return
    }
    withoutActuallyEscaping(body) { body in
      let job = UncheckedSendable(body)
      DispatchQueue.concurrentPerform(iterations: threads) { t in
        var i = t
        while i < count {
          job.value(i)
          i += threads
        }
      }
    }
  }
}

/// Carries a kernel's closure into `concurrentPerform`. The kernels write disjoint ranges of
/// their output, which is what makes sharing them across threads safe.
struct UncheckedSendable<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}
