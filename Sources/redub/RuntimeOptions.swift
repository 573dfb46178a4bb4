import ArgumentParser
import Tensors

/// Options every computing subcommand shares.
struct RuntimeOptions: ParsableArguments {
  @Option(name: .long, help: ArgumentHelp(
    "Threads for OpenBLAS and redub's own loops (default: REDUB_THREADS, else every core).", valueName: "n"))
  var threads: Int?

  func validate() throws {
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads)).") }
  }

  /// Applies the thread count; call first in `run()`.
  func apply() {
    Runtime.setThreads(threads ?? Runtime.defaultThreadCount())
  }
}
