import ArgumentParser
import Farm
import FarmMonitor
import Foundation

struct CoordinatorCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "coordinator",
    abstract: "Run the farm's coordinator: owns jobs, hands tasks to workers, stores results.",
    discussion: """
      Jobs, tasks, leases, workers and events persist in SQLite under --state, artifacts in a \
      content-addressed blob store beside it; a coordinator restarted on the same folder resumes \
      every job. Without --keys it binds to loopback only. SIGTERM or SIGINT stops it.

      --http ADDR also serves a read-only web monitor (jobs, stages, a grid of tasks by \
      state, workers; it refreshes itself), JSON at /api/jobs, /api/jobs/JOB and /api/workers, \
      and Prometheus metrics at /metrics. It has no authentication, so it binds to loopback \
      only unless --http-public is given too.
      """)

  @Option(help: ArgumentHelp("State folder (database and blob store).", valueName: "dir"))
  var state: String

  @Option(help: ArgumentHelp("Control socket (workers and clients).", valueName: "endpoint"))
  var control = "tcp://*:5555"

  @Option(help: ArgumentHelp("Bulk socket (blob transfers).", valueName: "endpoint"))
  var bulk = "tcp://*:5556"

  @Option(help: ArgumentHelp("Key folder from `redub keys generate --role coordinator`: CURVE and an allowlist.", valueName: "dir"))
  var keys: String?

  @Option(help: ArgumentHelp("Job input and output paths must lie inside this folder (default: the current folder).", valueName: "dir"))
  var dataRoot: String?

  @Option(help: ArgumentHelp("Heartbeat interval in milliseconds.", valueName: "ms"))
  var heartbeatMs = 5000

  @Option(help: ArgumentHelp("Missed heartbeats after which a worker is dead.", valueName: "n"))
  var liveness = 4

  @Option(help: ArgumentHelp("Seconds without progress after which a running task's lease lapses.", valueName: "seconds"))
  var progressTimeout: Double?

  @Option(help: ArgumentHelp("Failures of one task that fail its job.", valueName: "n"))
  var maxFailures = 3

  @Option(help: ArgumentHelp("Failures of one worker within a job that blocklist it for that job.", valueName: "n"))
  var blocklistAfter = 3

  @Option(help: ArgumentHelp(
    "Serve the web monitor and /metrics at HOST:PORT, :PORT or PORT (host 127.0.0.1; port 0 picks a free one). Loopback addresses only, unless --http-public.",
    valueName: "addr"))
  var http: String?

  @Flag(help: "Allow --http on an address other hosts can reach. The monitor is read-only but has no authentication: anyone who reaches it sees job names, errors, worker names and keys.")
  var httpPublic = false

  @Option(help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
  var logLevel = "info"

  func validate() throws {
    if heartbeatMs < 10 { throw ValidationError("--heartbeat-ms must be at least 10.") }
    if liveness < 2 { throw ValidationError("--liveness must be at least 2.") }
    if maxFailures < 1 || blocklistAfter < 1 { throw ValidationError("--max-failures and --blocklist-after must be at least 1.") }
    if let http {
      let address = try MonitorAddress(parsing: http)
      if !address.isLoopback && !httpPublic {
        throw ValidationError("""
          --http \(http) would serve the monitor to other hosts, and it has no authentication. \
          Add --http-public to allow that, or keep it on 127.0.0.1 and reach it through an SSH tunnel \
          (ssh -L 8080:127.0.0.1:PORT head-node).
          """)
      }
    } else if httpPublic {
      throw ValidationError("--http-public needs --http ADDR.")
    }
  }

  func run() throws {
    var configuration = CoordinatorConfiguration(
      stateDirectory: URL(fileURLWithPath: state),
      dataRoot: URL(fileURLWithPath: dataRoot ?? FileManager.default.currentDirectoryPath))
    configuration.controlEndpoint = control
    configuration.bulkEndpoint = bulk
    configuration.keysDirectory = keys.map { URL(fileURLWithPath: $0) }
    configuration.heartbeatInterval = .milliseconds(heartbeatMs)
    configuration.livenessIntervals = liveness
    configuration.progressTimeout = progressTimeout.map { .milliseconds(Int($0 * 1000)) }
    configuration.policy = FailurePolicy(maxTaskFailures: maxFailures, blocklistAfter: blocklistAfter)
    configuration.logger = FarmLog.standardError(label: "coordinator", level: logLevel)
    let logger = configuration.logger
    configuration.jobFinished = { coordinator, jobID in
      // Edit jobs get their report beside the output video; other jobs have none.
      do {
        let files = try FarmJobReport.write(jobID: jobID, store: coordinator.store, artifacts: coordinator.artifacts,
                                            blobs: coordinator.blobs)
        logger.info("job \(jobID): report \(files[0].path)")
      } catch FarmJobReport.Failure.notAnEdit(_) {
      } catch {
        logger.error("job \(jobID): cannot write its report: \(error)")
      }
    }
    let monitorAddress = try http.map { try MonitorAddress(parsing: $0) }
    let metrics = monitorAddress.map { _ in MonitorMetrics() }
    configuration.metricsFactory = metrics?.factory
    let coordinator = try Coordinator(configuration: configuration)
    try coordinator.start()
    print("coordinator: control \(coordinator.controlEndpoint), bulk \(coordinator.bulkEndpoint), state \(state)")
    var monitor: MonitorServer?
    if let monitorAddress, let metrics {
      do {
        let server = MonitorServer(
          source: try MonitorSource(coordinator: coordinator), metrics: metrics,
          logger: FarmLog.standardError(label: "monitor", level: logLevel))
        var bound = monitorAddress
        bound.port = try server.start(monitorAddress)
        monitor = server
        if !monitorAddress.isLoopback {
          configuration.logger.warning("web monitor on \(bound), reachable from other hosts without authentication (--http-public)")
        }
        print("coordinator: monitor http://\(bound)/")
      } catch {
        coordinator.stop()
        throw error
      }
    }
    fflush(nil)
    let sources = onSignals([SIGTERM, SIGINT]) { _ in coordinator.stop() }
    // The signal sources must outlive the wait, or an optimized build frees them early.
    withExtendedLifetime(sources) { coordinator.waitUntilStopped() }
    monitor?.stop()
  }
}
