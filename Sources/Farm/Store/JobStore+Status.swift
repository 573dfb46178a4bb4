import Foundation
import GRDB

/// A finished task's output, for exporting a job's results.
public struct TaskOutput: Sendable, Equatable {
  public var taskKey: String
  public var name: String
  public var sha256: String
  public var size: UInt64
}

/// A declared export of a job: which task's output goes to which path of its output folder.
public struct JobExport: Sendable, Equatable {
  /// Relative to the job's output folder.
  public var path: String
  public var taskKey: String
  public var output: String
  /// The output's blob, nil when the task has not produced it (not done, or no such output).
  public var sha256: String?
  public var size: UInt64?
}

extension JobStore {
  /// A job's state, per-stage counts and its running and failed tasks (every task with
  /// `allTasks`). Live progress is the coordinator's to add. `outputs: false` leaves out each
  /// task's output list (one query per task), as the web monitor's page does.
  public func status(jobID: String, allTasks: Bool = false, outputs: Bool = true) throws(FarmError) -> Redub_V1_JobStatus {
    try read { db in
      guard let job = try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE id = ?", arguments: [jobID]) else {
        throw FarmError.unknownJob(jobID)
      }
      var status = JobStore.summary(job)
      var stages: [String: Redub_V1_StageStatus] = [:]
      var order: [String] = []
      for row in try Row.fetchAll(db, sql: """
        SELECT stage, state, COUNT(*) AS n, MIN(id) AS first FROM tasks WHERE job_id = ? GROUP BY stage, state ORDER BY first
        """, arguments: [jobID]) {
        let stage: String = row["stage"]
        if stages[stage] == nil {
          order.append(stage)
          var entry = Redub_V1_StageStatus()
          entry.stage = stage
          stages[stage] = entry
        }
        let n = UInt32(row["n"] as Int64)
        stages[stage]!.total += n
        switch TaskState(rawValue: row["state"]) {
        case .done: stages[stage]!.done += n
        case .leased: stages[stage]!.running += n
        case .failed: stages[stage]!.failed += n
        default: stages[stage]!.waiting += n
        }
      }
      status.stages = order.map { stages[$0]! }
      let filter = allTasks ? "" : " AND state IN ('leased', 'failed')"
      for row in try Row.fetchAll(db, sql: "SELECT * FROM tasks WHERE job_id = ?\(filter) ORDER BY id", arguments: [jobID]) {
        var task = Redub_V1_TaskStatus()
        task.taskID = UInt64(row["id"] as Int64)
        task.key = row["key"]
        task.stage = row["stage"]
        task.state = row["state"]
        task.attempts = UInt32(row["failures"] as Int64)
        task.worker = (row["worker"] as String?) ?? (row["error_worker"] as String?) ?? ""
        task.error = (row["error"] as String?) ?? ""
        task.epoch = UInt64(row["epoch"] as Int64)
        let outputRows = try outputs ? Row.fetchAll(db, sql: "SELECT name, sha256, size FROM task_outputs WHERE task_id = ? ORDER BY name",
                                                    arguments: [row["id"] as Int64]) : []
        for output in outputRows {
          var ref = Redub_V1_BlobRef()
          ref.name = output["name"]
          ref.sha256 = output["sha256"]
          ref.size = UInt64(output["size"] as Int64)
          task.outputs.append(ref)
        }
        status.tasks.append(task)
      }
      return status
    }
  }

  /// A job's state, counts and error, without stages or tasks.
  public func summary(jobID: String) throws(FarmError) -> Redub_V1_JobStatus {
    try read { db in
      guard let job = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM jobs WHERE id = ?"), arguments: [jobID]) else {
        throw FarmError.unknownJob(jobID)
      }
      return JobStore.summary(job)
    }
  }

  /// Every job, newest first, without task details.
  public func jobs() throws(FarmError) -> [Redub_V1_JobStatus] {
    try read { db in
      try Row.fetchAll(db, sql: "SELECT * FROM jobs ORDER BY seq DESC").map(JobStore.summary)
    }
  }

  /// Workers blocklisted for a job.
  public func blocklistedWorkers(jobID: String, threshold: Int) throws(FarmError) -> [String] {
    try read { db in
      try String.fetchAll(db, sql: "SELECT worker_id FROM worker_failures WHERE job_id = ? AND failures >= ? ORDER BY worker_id",
                          arguments: [jobID, threshold])
    }
  }

  static func summary(_ job: Row) -> Redub_V1_JobStatus {
    var status = Redub_V1_JobStatus()
    status.jobID = job["id"]
    status.name = job["name"]
    status.state = job["state"]
    status.priority = Int32(job["priority"] as Int64)
    status.createdUnix = job["created"]
    status.finishedUnix = (job["finished"] as Double?) ?? 0
    status.error = (job["error"] as String?) ?? ""
    status.tasksTotal = UInt32(job["tasks_total"] as Int64)
    status.tasksDone = UInt32(job["tasks_done"] as Int64)
    return status
  }

  /// Every output of a job's finished tasks, in task order.
  public func outputs(jobID: String) throws(FarmError) -> [TaskOutput] {
    try read { db in
      try Row.fetchAll(db, sql: """
        SELECT t.key, o.name, o.sha256, o.size FROM task_outputs o JOIN tasks t ON t.id = o.task_id
        WHERE t.job_id = ? AND t.state = 'done' ORDER BY t.id, o.name
        """, arguments: [jobID]).map {
        TaskOutput(taskKey: $0["key"], name: $0["name"], sha256: $0["sha256"], size: UInt64($0["size"] as Int64))
      }
    }
  }

  /// A job's declared exports (`TaskSpec.exports`), by path.
  public func exports(jobID: String) throws(FarmError) -> [JobExport] {
    try read { db in
      try Row.fetchAll(db, sql: """
        SELECT e.path, t.key, e.output, o.sha256, o.size FROM task_exports e JOIN tasks t ON t.id = e.task_id
        LEFT JOIN task_outputs o ON o.task_id = e.task_id AND o.name = e.output AND t.state = 'done'
        WHERE e.job_id = ? ORDER BY e.path
        """, arguments: [jobID]).map {
        JobExport(path: $0["path"], taskKey: $0["key"], output: $0["output"], sha256: $0["sha256"],
                  size: ($0["size"] as Int64?).map { UInt64($0) })
      }
    }
  }

  /// Finished jobs whose outputs are not yet written to their output folder, with that folder.
  public func jobsToExport() throws(FarmError) -> [(jobID: String, outputDir: String)] {
    try read { db in
      try Row.fetchAll(db, sql: "SELECT id, output_dir FROM jobs WHERE state = 'done' AND exported = 0 AND output_dir != ''")
        .map { ($0["id"], $0["output_dir"]) }
    }
  }

  public func markExported(jobID: String) throws(FarmError) {
    try write { db in try db.execute(sql: "UPDATE jobs SET exported = 1 WHERE id = ?", arguments: [jobID]) }
  }

  /// How many leases (attempts) each task of a job had, by key, and with which outcome.
  public func leaseHistory(jobID: String) throws(FarmError) -> [(key: String, epoch: Int64, worker: String, outcome: String?)] {
    try read { db in
      try Row.fetchAll(db, sql: """
        SELECT t.key, l.epoch, l.worker, l.outcome FROM leases l JOIN tasks t ON t.id = l.task_id
        WHERE t.job_id = ? ORDER BY t.id, l.epoch
        """, arguments: [jobID]).map { ($0["key"], $0["epoch"], $0["worker"], $0["outcome"]) }
    }
  }
}

extension JobStore {
  /// Tasks of every job by state (`TaskState` raw values), for the monitor's metrics.
  public func taskCountsByState() throws(FarmError) -> [String: Int] {
    try read { db in
      var counts: [String: Int] = [:]
      for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM tasks GROUP BY state") {
        counts[row["state"]] = row["n"]
      }
      return counts
    }
  }

  /// Jobs by state.
  public func jobCountsByState() throws(FarmError) -> [String: Int] {
    try read { db in
      var counts: [String: Int] = [:]
      for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM jobs GROUP BY state") {
        counts[row["state"]] = row["n"]
      }
      return counts
    }
  }

  /// Workers blocklisted for at least one job that is still running.
  public func blocklistedWorkerCount(threshold: Int) throws(FarmError) -> Int {
    try read { db in
      try Int.fetchOne(db, sql: """
        SELECT COUNT(DISTINCT f.worker_id) FROM worker_failures f JOIN jobs j ON j.id = f.job_id
        WHERE f.failures >= ? AND j.state = 'running'
        """, arguments: [threshold]) ?? 0
    }
  }

  /// Each worker's blocklists (job ids), for every worker that has one.
  public func blocklists(threshold: Int) throws(FarmError) -> [String: [String]] {
    try read { db in
      var lists: [String: [String]] = [:]
      for row in try Row.fetchAll(db, sql: "SELECT worker_id, job_id FROM worker_failures WHERE failures >= ? ORDER BY job_id",
                                  arguments: [threshold]) {
        lists[row["worker_id"], default: []].append(row["job_id"])
      }
      return lists
    }
  }
}
