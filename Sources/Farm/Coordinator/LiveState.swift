import CoreMetrics
import Foundation
import Synchronization

/// What the control thread knows and the database does not: the connected workers and the
/// latest progress of every running task. The control thread publishes a fresh copy a few
/// times a second (`Coordinator.liveState`); readers such as the web monitor take that copy
/// under a lock held only for the swap, so they never wait for the control loop, and it never
/// waits for them.
public struct CoordinatorLiveState: Sendable {
  /// When the control thread published this copy (Unix seconds); 0 before the first.
  public var publishedUnix: Double = 0
  /// Connected workers by name, as `redub workers` lists them, but without
  /// `blocklisted_for_jobs` (that is in the database: `JobStore.blocklistedJobs`).
  public var workers: [Redub_V1_WorkerInfo] = []
  /// The latest progress report of each leased task, by task id, with the latest thumbnail the
  /// task sent (kept from an earlier report when the last one had none).
  public var progress: [UInt64: Redub_V1_Progress] = [:]

  public init() {}

  /// `status` (as the job store reads it) with the live progress of its running tasks: each
  /// leased task's iteration and total, and per stage the mean fraction done of the running
  /// tasks and the longest ETA among them (-1 when none reports one).
  public static func addProgress(_ progress: [UInt64: Redub_V1_Progress], to status: inout Redub_V1_JobStatus) {
    var fractions: [String: [Double]] = [:]
    var etas: [String: Double] = [:]
    for index in status.tasks.indices where status.tasks[index].state == TaskState.leased.rawValue {
      guard let report = progress[status.tasks[index].taskID] else { continue }
      let stage = status.tasks[index].stage
      status.tasks[index].iteration = report.iteration
      status.tasks[index].total = report.total
      status.tasks[index].losses = report.losses
      status.tasks[index].thumbnailReady = report.hasThumbnail
      if report.total > 0 { fractions[stage, default: []].append(Double(report.iteration) / Double(report.total)) }
      if report.etaSeconds >= 0 { etas[stage] = max(etas[stage] ?? 0, report.etaSeconds) }
    }
    for index in status.stages.indices {
      let stage = status.stages[index].stage
      if let values = fractions[stage], !values.isEmpty { status.stages[index].runningFraction = values.reduce(0, +) / Double(values.count) }
      status.stages[index].etaSeconds = etas[stage] ?? -1
    }
  }
}

/// The coordinator's own metrics, recorded through swift-metrics into the factory its
/// configuration names (a Prometheus registry behind `redub coordinator --http`; none
/// otherwise). Each is an atomic add or a short lock: nothing that holds up the control loop.
struct CoordinatorMetrics: Sendable {
  let factory: any MetricsFactory
  let bytesToWorkers: Counter
  let bytesFromWorkers: Counter

  init(factory: any MetricsFactory) {
    self.factory = factory
    bytesToWorkers = Counter(label: CoordinatorMetrics.bytesMoved, dimensions: [("direction", "to_workers")], factory: factory)
    bytesFromWorkers = Counter(label: CoordinatorMetrics.bytesMoved, dimensions: [("direction", "from_workers")], factory: factory)
  }

  /// Names, as `/metrics` shows them.
  static let bytesMoved = "redub_blob_bytes_total"
  static let taskSeconds = "redub_task_seconds"
  static let retries = "redub_task_retries_total"

  /// A finished task's compute seconds (as its worker measured them), per stage.
  func recordTaskSeconds(_ seconds: Double, stage: String) {
    guard seconds.isFinite, seconds >= 0 else { return }
    CoreMetrics.Timer(label: CoordinatorMetrics.taskSeconds, dimensions: [("stage", stage)], factory: factory)
      .recordNanoseconds(Int64(min(seconds, 1e9) * 1e9))
  }

  /// A task queued again after an attempt ended without a result: `failed` (the worker
  /// reported a failure), `expired` (silence or no progress), `handed-back` (drain, preemption).
  func recordRetry(_ reason: String) {
    Counter(label: CoordinatorMetrics.retries, dimensions: [("reason", reason)], factory: factory).increment()
  }
}
