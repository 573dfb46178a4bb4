import Dispatch
import Farm
import Foundation

/// Where the web monitor reads the farm: the coordinator's database through a read-only
/// connection of its own (SQLite WAL: a reader never blocks the coordinator's writes nor waits
/// for them) and the live state the control thread publishes (workers, progress). Reads run one
/// at a time on a queue of their own, off the HTTP server's threads, so a burst of requests
/// costs the coordinator at most one reader's share of the disk and a core.
public final class MonitorSource: Sendable {
  public let coordinator: Coordinator
  let store: JobStore
  let queue = DispatchQueue(label: "redub.monitor.reads")

  public init(coordinator: Coordinator) throws(FarmError) {
    self.coordinator = coordinator
    store = try JobStore(readOnlyAt: coordinator.configuration.stateDirectory.appendingPathComponent("farm.sqlite"))
  }

  var blocklistThreshold: Int { coordinator.configuration.policy.blocklistAfter }

  /// Runs `body` on the reading queue.
  func read<T: Sendable>(_ body: @escaping @Sendable (MonitorSource) throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
      queue.async { continuation.resume(with: Result { try body(self) }) }
    }
  }

  /// Every job, newest first: what `redub status --json` prints without a job.
  func jobList() throws(FarmError) -> Redub_V1_JobList {
    let jobs = try store.jobs()
    return Redub_V1_JobList.with { $0.jobs = jobs }
  }

  /// One job's status with live progress and blocklist: what `redub status JOB --json
  /// [--all-tasks]` prints.
  func jobStatus(_ jobID: String, allTasks: Bool, outputs: Bool = true, live: CoordinatorLiveState) throws(FarmError) -> Redub_V1_JobStatus {
    var status = try store.status(jobID: jobID, allTasks: allTasks, outputs: outputs)
    status.blocklistedWorkers = try store.blocklistedWorkers(jobID: jobID, threshold: blocklistThreshold)
    CoordinatorLiveState.addProgress(live.progress, to: &status)
    return status
  }

  /// The connected workers: what `redub workers --json` prints.
  func workerList(live: CoordinatorLiveState) throws(FarmError) -> Redub_V1_WorkerList {
    let blocklists = try store.blocklists(threshold: blocklistThreshold)
    var list = Redub_V1_WorkerList()
    list.workers = live.workers.map { worker in
      var worker = worker
      worker.blocklistedForJobs = blocklists[worker.workerID] ?? []
      return worker
    }
    return list
  }

  /// Everything the page shows: the job list, the detailed status (all tasks) of the jobs it
  /// draws a grid for, and the workers.
  func page(selected: String?) throws(FarmError) -> MonitorPage {
    let live = coordinator.liveState
    let jobs = try store.jobs()
    var shown: [String] = []
    if let selected {
      shown = [selected]
    } else {
      shown = jobs.filter { $0.state == "running" }.prefix(MonitorPage.maxGrids).map(\.jobID)
      if shown.isEmpty, let newest = jobs.first { shown = [newest.jobID] }
    }
    var details: [Redub_V1_JobStatus] = []
    var missing: String?
    for jobID in shown {
      do {
        details.append(try jobStatus(jobID, allTasks: true, outputs: false, live: live))
      } catch FarmError.unknownJob(let id) {
        missing = id
      }
    }
    return MonitorPage(
      jobs: jobs, details: details, workers: try workerList(live: live).workers, live: live,
      missingJob: missing, now: Date().timeIntervalSince1970)
  }

  /// The figures `/metrics` samples at scrape time.
  func scrape() throws(FarmError) -> MonitorSample {
    MonitorSample(
      tasks: try store.taskCountsByState(), jobs: try store.jobCountsByState(),
      blocklistedWorkers: try store.blocklistedWorkerCount(threshold: blocklistThreshold),
      live: coordinator.liveState, now: Date().timeIntervalSince1970)
  }
}

/// The database and live figures behind one scrape of `/metrics`.
struct MonitorSample: Sendable {
  var tasks: [String: Int]
  var jobs: [String: Int]
  var blocklistedWorkers: Int
  var live: CoordinatorLiveState
  var now: Double
}
