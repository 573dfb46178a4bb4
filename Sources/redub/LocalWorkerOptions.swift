import ArgumentParser
import Tensors

/// `--workers N` and `--threads N` for commands that run an edit's tasks in this process.
struct LocalWorkerOptions: ParsableArguments {
  @Option(help: ArgumentHelp(
    "Tasks run at once in this process, each with threads/workers compute threads (default: 1; the demo: 2).",
    valueName: "n"))
  var workers: Int?

  @OptionGroup var runtime: RuntimeOptions

  func validate() throws {
    if let workers, workers < 1 { throw ValidationError("--workers must be at least 1 (got \(workers)).") }
  }

  /// Sets each task's compute threads (the thread count split over the workers) and returns the
  /// number of workers.
  func apply(default fallback: Int = 1) -> Int {
    runtime.apply()
    let count = workers ?? fallback
    let total = Runtime.threads
    Runtime.setThreads(max(1, total / count))
    if count > 1 {
      print("\(count) workers × \(Runtime.threads) thread(s)" + (total < count ? " (fewer threads than workers: they share cores)" : ""))
    }
    return count
  }
}
