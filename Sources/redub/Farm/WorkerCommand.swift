import ArgumentParser
import Farm
import Foundation
import Tensors

struct WorkerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "worker",
    abstract: "Run a farm worker: pull tasks from a coordinator, compute, return results.",
    discussion: """
      The worker caches blobs under --cache (bounded, least recently used go first), keeps each \
      result on disk until the coordinator acknowledges it, and reconnects with back-off (1 s \
      doubling to 32 s) when the coordinator disappears. SIGTERM, SIGUSR1 (Slurm's warning before \
      a time limit) and SIGINT drain it: it takes no new task, finishes the current one within \
      --drain-grace or hands it back, and exits 0.

      Task kinds in this build: the edit stages edit.prepare, edit.invert, edit.tune, \
      edit.optimize, edit.merge, edit.stitch and edit.composite, and the diagnostic kinds \
      diag.sum, diag.hash, diag.fail, diag.blob and diag.fanout (see `redub submit --help`).
      """)

  @Option(help: ArgumentHelp("Coordinator address: host, host:port or tcp://host:port (default: REDUB_COORDINATOR, else 127.0.0.1:5555).", valueName: "address"))
  var coordinator: String?

  @Option(help: ArgumentHelp("Cache folder (blobs, pending results, the worker's id).", valueName: "dir"))
  var cache = "redub-worker-cache"

  @Option(help: ArgumentHelp("Cache size bound in GiB.", valueName: "GiB"))
  var cacheLimitGb: Double = 20

  @Option(help: ArgumentHelp("Key folder from `redub keys generate --role client` with the coordinator's coordinator.pub.", valueName: "dir"))
  var keys: String?

  @Option(help: ArgumentHelp("Threads tasks may use (default: every core).", valueName: "n"))
  var threads: Int?

  @Option(help: ArgumentHelp("Name shown in `redub workers` (default: the host name).", valueName: "name"))
  var name: String?

  @Option(help: ArgumentHelp("Stable worker id (default: made once and kept in the cache folder).", valueName: "id"))
  var id: String?

  @Option(help: ArgumentHelp("Seconds a running task may take to finish when draining.", valueName: "seconds"))
  var drainGrace: Double = 30

  @Option(help: ArgumentHelp("Limit blob downloads to this many MB/s.", valueName: "MB/s"))
  var downloadLimitMbps: Double?

  @Option(help: ArgumentHelp("Exit after this many tasks.", valueName: "n"))
  var maxTasks: Int?

  @Option(help: ArgumentHelp("First reconnect delay in milliseconds (doubles up to --reconnect-max-ms).", valueName: "ms"))
  var reconnectMs = 1000

  @Option(help: ArgumentHelp("Longest reconnect delay in milliseconds.", valueName: "ms"))
  var reconnectMaxMs = 32000

  @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
  var logLevel = "info"

  func validate() throws {
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
    if cacheLimitGb <= 0 { throw ValidationError("--cache-limit-gb must be positive.") }
  }

  func run() throws {
    let address = coordinator ?? ProcessInfo.processInfo.environment["REDUB_COORDINATOR"] ?? "127.0.0.1:5555"
    var registry = DiagnosticTasks.registry
    EditFarmTasks.register(in: &registry)
    var configuration = WorkerConfiguration(
      coordinator: address, cacheDirectory: URL(fileURLWithPath: cache), registry: registry)
    configuration.cacheLimitBytes = UInt64(cacheLimitGb * Double(1 << 30))
    configuration.keysDirectory = keys.map { URL(fileURLWithPath: $0) }
    // Tasks compute with this many threads (OpenBLAS and redub's loops), and the worker says so.
    configuration.threads = threads ?? Runtime.defaultThreadCount()
    Runtime.setThreads(configuration.threads)
    configuration.computeBackend = Runtime.backend.name
    if let name { configuration.name = name }
    configuration.workerID = id
    configuration.drainGrace = .milliseconds(Int(drainGrace * 1000))
    configuration.maxTasks = maxTasks
    configuration.downloadRateLimit = downloadLimitMbps.map { $0 * 1e6 }
    configuration.reconnectInitial = .milliseconds(reconnectMs)
    configuration.reconnectMax = .milliseconds(max(reconnectMs, reconnectMaxMs))
    configuration.logger = FarmLog.standardError(label: "worker", level: logLevel)
    let worker = try Worker(configuration: configuration)
    let logger = configuration.logger
    let sources = onSignals([SIGTERM, SIGUSR1, SIGINT]) { number in
      logger.info("signal \(number): draining")
      worker.drain()
    }
    print("worker \(worker.workerID): connecting to \(address)")
    fflush(nil)
    // The signal sources must outlive the run, or an optimized build frees them early.
    try withExtendedLifetime(sources) { try worker.run() }
  }
}
