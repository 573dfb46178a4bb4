import Foundation
import GRDB

/// A lease the store granted: the task to send to a worker.
public struct LeaseGrant: Sendable, Equatable {
  public var taskID: Int64
  public var epoch: Int64
  public var jobID: String
  public var key: String
  public var stage: String
  public var kind: String
  public var parameters: Data
  public var inputs: [StoredInput]
}

/// One lease: the task, its epoch and the worker holding it.
public struct LeaseRef: Sendable, Hashable {
  public var taskID: Int64
  public var epoch: Int64
  public var worker: String
  public init(taskID: Int64, epoch: Int64, worker: String) {
    self.taskID = taskID
    self.epoch = epoch
    self.worker = worker
  }
}

/// What became of a reported result.
public enum ResultOutcome: Sendable, Equatable {
  /// Committed; `finishedJob` is set when it was the job's last task.
  case accepted(finishedJob: String?)
  /// The same lease's result was committed before (a re-delivery): acknowledge again.
  case duplicate
  /// The lease is gone (expired, requeued, cancelled): refuse.
  case stale(String)
  /// The result's follow-up tasks broke the job's rules (a bug in the task kind): nothing of
  /// it was stored, the task failed (not retryable) and took its job down with `error`;
  /// `cancelled` are the job's other leases. Acknowledge the result.
  case rejected(jobID: String, error: String, cancelled: [LeaseRef])
}

/// What became of a reported failure or a lost lease.
public enum FailureOutcome: Sendable, Equatable {
  /// The task is ready again.
  case requeued(blocklisted: Bool)
  /// The task failed for good and took its job down; `cancelled` are the job's other leases.
  case jobFailed(jobID: String, cancelled: [LeaseRef], blocklisted: Bool)
  case stale(String)
}

/// Why a lease ends without a result.
public enum LeaseLoss: String, Sendable {
  /// The worker went silent or the task reported no progress in time.
  case expired
  /// The worker drained or was preempted and handed the task back (not a failure).
  case handedBack = "handed-back"
}

/// Limits that decide when failures end a job or blocklist a worker.
public struct FailurePolicy: Sendable {
  /// Failures of one task that fail its job.
  public var maxTaskFailures: Int = 3
  /// Failures of one worker within a job that blocklist it for that job.
  public var blocklistAfter: Int = 3
  /// Lost leases (expiries) of one task that fail its job: a task that kills every worker.
  public var maxLostLeases: Int = 10
  public init(maxTaskFailures: Int = 3, blocklistAfter: Int = 3, maxLostLeases: Int = 10) {
    self.maxTaskFailures = maxTaskFailures
    self.blocklistAfter = blocklistAfter
    self.maxLostLeases = maxLostLeases
  }
}

extension JobStore {
  /// Leases the next task `worker` may run: highest job priority; then, for a worker with GPUs,
  /// tasks that prefer a GPU first, and for one without, those last; then oldest job, then task
  /// order. Among the first few candidates of the top priority, the one whose inputs the worker
  /// caches most bytes of. Nil when nothing is ready for it.
  public func leaseNextTask(
    worker: String, kinds: Set<String>, cached: Set<String>, policy: FailurePolicy, hasGPU: Bool = false
  ) throws(FarmError) -> LeaseGrant? {
    guard !kinds.isEmpty else { return nil }
    return try write { db in
      var arguments: StatementArguments = []
      arguments += StatementArguments(kinds.sorted())
      arguments += [worker, policy.blocklistAfter]
      let candidates = try Row.fetchAll(db.cachedStatement(sql: JobStore.leaseQuery(kinds: kinds.count, hasGPU: hasGPU)),
                                        arguments: arguments)
      guard let first = candidates.first else { return nil }
      var chosen = first
      var chosenInputs = try JobStore.resolveInputs(db, row: first)
      if !cached.isEmpty && candidates.count > 1 {
        var best = chosenInputs.filter { cached.contains($0.sha256) }.reduce(UInt64(0)) { $0 + $1.size }
        let topPriority: Int64 = first["job_priority"], gpuPreference: Int64 = first["prefer_gpu"]
        for row in candidates.dropFirst()
        where (row["job_priority"] as Int64) == topPriority && (row["prefer_gpu"] as Int64) == gpuPreference {
          let inputs = try JobStore.resolveInputs(db, row: row)
          let bytes = inputs.filter { cached.contains($0.sha256) }.reduce(UInt64(0)) { $0 + $1.size }
          if bytes > best {
            best = bytes
            chosen = row
            chosenInputs = inputs
          }
        }
      }
      let taskID: Int64 = chosen["id"]
      let epoch: Int64 = chosen["epoch"] + 1
      try db.cachedStatement(sql: "UPDATE tasks SET state = 'leased', epoch = ?, worker = ? WHERE id = ?")
        .execute(arguments: [epoch, worker, taskID])
      try db.cachedStatement(sql: "INSERT INTO leases (task_id, epoch, worker, granted) VALUES (?, ?, ?, ?)")
        .execute(arguments: [taskID, epoch, worker, JobStore.now()])
      let spec = try Redub_V1_TaskSpec(serializedBytes: chosen["spec"] as Data)
      return LeaseGrant(taskID: taskID, epoch: epoch, jobID: chosen["job_id"], key: chosen["key"],
                        stage: chosen["stage"], kind: chosen["kind"], parameters: spec.parameters,
                        inputs: chosenInputs)
    }
  }

  /// The first few ready tasks a worker may take, in lease order. Its ORDER BY matches an
  /// index (`tasks_ready_cpu` / `tasks_ready_gpu`), so SQLite reads them in order and stops
  /// after the LIMIT instead of sorting every ready task for each lease (`JobStoreTests`
  /// checks the plan).
  static func leaseQuery(kinds: Int, hasGPU: Bool) -> String {
    let placeholders = Array(repeating: "?", count: kinds).joined(separator: ",")
    return """
      SELECT t.id, t.job_id, t.key, t.stage, t.kind, t.spec, t.epoch, t.job_priority, t.prefer_gpu
      FROM tasks t JOIN jobs j ON j.id = t.job_id
      WHERE t.state = 'ready' AND j.state = 'running' AND t.kind IN (\(placeholders))
        AND t.job_id NOT IN (SELECT job_id FROM worker_failures WHERE worker_id = ? AND failures >= ?)
      ORDER BY t.job_priority DESC, t.prefer_gpu \(hasGPU ? "DESC" : "ASC"), t.job_seq, t.id
      LIMIT 8
      """
  }

  /// The blobs a task reads: its job inputs and its dependencies' outputs, under its own names.
  static func resolveInputs(_ db: Database, row: Row) throws -> [StoredInput] {
    let spec = try Redub_V1_TaskSpec(serializedBytes: row["spec"] as Data)
    let jobID: String = row["job_id"]
    var inputs: [StoredInput] = []
    for binding in spec.inputs {
      let found: Row?
      if !binding.jobInput.isEmpty {
        found = try Row.fetchOne(
          db.cachedStatement(sql: "SELECT sha256, size FROM job_inputs WHERE job_id = ? AND name = ?"),
          arguments: [jobID, binding.jobInput])
      } else {
        found = try Row.fetchOne(
          db.cachedStatement(sql: """
            SELECT o.sha256, o.size FROM task_outputs o JOIN tasks t ON t.id = o.task_id
            WHERE t.job_id = ? AND t.key = ? AND o.name = ?
            """),
          arguments: [jobID, binding.task, binding.output])
      }
      guard let found else {
        throw FarmError.invalidJob("task '\(spec.key)' input '\(binding.name)' is not available")
      }
      inputs.append(StoredInput(name: binding.name, sha256: found["sha256"], size: UInt64(found["size"] as Int64)))
    }
    return inputs
  }

  private static func currentLease(_ db: Database, _ taskID: Int64) throws -> Row? {
    try Row.fetchOne(
      db.cachedStatement(sql: "SELECT id, job_id, key, state, epoch, worker, failures, lost FROM tasks WHERE id = ?"),
      arguments: [taskID])
  }

  /// Why a report for (task, epoch, worker) no longer matches the task's lease, or nil if it does.
  private static func staleness(_ row: Row?, epoch: Int64, worker: String) -> String? {
    guard let row else { return "no such task" }
    let state: String = row["state"]
    let current: Int64 = row["epoch"]
    if state != TaskState.leased.rawValue { return "task is \(state) (epoch \(current)), report quotes epoch \(epoch)" }
    if current != epoch { return "lease epoch is \(current), report quotes \(epoch)" }
    if (row["worker"] as String?) != worker { return "lease belongs to another worker" }
    return nil
  }

  /// Commits a task's result if (task, epoch, worker) is its current lease. `smallBlobs` are
  /// output bytes by hash (each checked by the caller) kept in the database with the result.
  ///
  /// `followUps` are tasks the finished task adds to its own job, inserted in the same
  /// transaction under the rules of a submitted job (`JobStore.validate`): new keys, each
  /// dependency a task of the job (in any state) or an earlier follow-up, inputs bound to job
  /// inputs or to outputs of dependencies, safe and unique export paths. Finished dependencies
  /// (this task included) count as satisfied, so a follow-up with no other is ready at once;
  /// the job's task count grows by them before its completion is judged. A batch that breaks
  /// a rule stores nothing of the result and fails the task (not retryable) and its job:
  /// `.rejected`. A duplicate or stale result inserts nothing.
  public func complete(
    taskID: Int64, epoch: Int64, worker: String, outputs: [StoredInput], smallBlobs: [String: Data] = [:],
    metrics: [(String, Double)], seconds: Double, followUps: [Redub_V1_TaskSpec] = []
  ) throws(FarmError) -> ResultOutcome {
    try write { db in
      let row = try JobStore.currentLease(db, taskID)
      if let row, (row["state"] as String) == TaskState.done.rawValue, (row["epoch"] as Int64) == epoch,
         (row["worker"] as String?) == worker {
        return .duplicate
      }
      if let reason = JobStore.staleness(row, epoch: epoch, worker: worker) {
        try JobStore.logEvent(db, "stale-result", job: row?["job_id"], task: taskID, worker: worker,
                              "refused a result for epoch \(epoch): \(reason)")
        return .stale(reason)
      }
      let jobID: String = row!["job_id"]
      let key: String = row!["key"]
      let now = JobStore.now()
      var known: [String: (id: Int64, done: Bool)] = [:]
      if !followUps.isEmpty {
        do {
          known = try JobStore.checkFollowUps(db, followUps, jobID: jobID, completing: key, outputs: outputs)
        } catch let FarmError.invalidJob(problem) {
          let message = "task '\(key)' returned follow-up tasks the job cannot take: \(problem)"
          try db.cachedStatement(sql: "UPDATE leases SET ended = ?, outcome = 'failed', detail = ? WHERE task_id = ? AND epoch = ?")
            .execute(arguments: [now, message, taskID, epoch])
          try db.execute(sql: """
            UPDATE tasks SET state = 'failed', failures = failures + 1, error = ?, error_worker = ?, worker = NULL, finished = ?
            WHERE id = ?
            """, arguments: [message, worker, now, taskID])
          try JobStore.logEvent(db, "task-failed", job: jobID, task: taskID, worker: worker, message)
          let cancelled = try JobStore.failJob(db, jobID, message: message)
          return .rejected(jobID: jobID, error: message, cancelled: cancelled)
        }
      }
      try JobStore.putSmallBlobs(db, smallBlobs)
      let insertOutput = try db.cachedStatement(
        sql: "INSERT OR REPLACE INTO task_outputs (task_id, name, sha256, size) VALUES (?, ?, ?, ?)")
      for output in outputs {
        try insertOutput.execute(arguments: [taskID, output.name, output.sha256, Int64(output.size)])
      }
      let insertMetric = try db.cachedStatement(
        sql: "INSERT OR REPLACE INTO task_metrics (task_id, name, value) VALUES (?, ?, ?)")
      for (name, value) in metrics { try insertMetric.execute(arguments: [taskID, name, value]) }
      try db.cachedStatement(sql: "UPDATE tasks SET state = 'done', finished = ?, seconds = ?, error = NULL WHERE id = ?")
        .execute(arguments: [now, seconds, taskID])
      try db.cachedStatement(sql: "UPDATE leases SET ended = ?, outcome = 'done' WHERE task_id = ? AND epoch = ?")
        .execute(arguments: [now, taskID, epoch])
      try db.cachedStatement(sql: "UPDATE tasks SET pending_deps = pending_deps - 1 WHERE id IN (SELECT task_id FROM task_deps WHERE depends_on = ?)")
        .execute(arguments: [taskID])
      try db.cachedStatement(sql: """
        UPDATE tasks SET state = 'ready'
        WHERE state = 'waiting' AND pending_deps <= 0 AND id IN (SELECT task_id FROM task_deps WHERE depends_on = ?)
        """).execute(arguments: [taskID])
      if !followUps.isEmpty {
        // After the dependants' release above, so the new tasks' links to this (now done)
        // task are never counted down: they start satisfied.
        known[key] = (taskID, true)
        let job = try Row.fetchOne(db, sql: "SELECT priority, seq FROM jobs WHERE id = ?", arguments: [jobID])!
        _ = try JobStore.insertTasks(db, followUps, jobID: jobID, priority: job["priority"], seq: job["seq"], known: known)
        try db.execute(sql: "UPDATE jobs SET tasks_total = tasks_total + ? WHERE id = ?", arguments: [followUps.count, jobID])
        try JobStore.logEvent(db, "follow-ups", job: jobID, task: taskID, worker: worker,
                              "task \(key) added \(followUps.count) follow-up tasks to the job")
      }
      try db.cachedStatement(sql: "UPDATE jobs SET tasks_done = tasks_done + 1 WHERE id = ?").execute(arguments: [jobID])
      let job = try Row.fetchOne(
        db.cachedStatement(sql: "SELECT tasks_done, tasks_total, state FROM jobs WHERE id = ?"), arguments: [jobID])!
      if (job["tasks_done"] as Int64) >= (job["tasks_total"] as Int64) && (job["state"] as String) == JobState.running.rawValue {
        try db.execute(sql: "UPDATE jobs SET state = 'done', finished = ? WHERE id = ?", arguments: [now, jobID])
        try JobStore.logEvent(db, "job-done", job: jobID, "all \(job["tasks_total"] as Int64) tasks done")
        return .accepted(finishedJob: jobID)
      }
      return .accepted(finishedJob: nil)
    }
  }

  /// Checks a finished task's follow-ups against its job (`JobTaskRules`, seeded with the
  /// job's inputs, export paths and the stored tasks the batch names); returns those stored
  /// tasks by key with their ids and whether they are done. A binding to an output of a
  /// finished dependency must name an output it produced. Throws `FarmError.invalidJob`.
  static func checkFollowUps(
    _ db: Database, _ followUps: [Redub_V1_TaskSpec], jobID: String, completing: String, outputs: [StoredInput]
  ) throws -> [String: (id: Int64, done: Bool)] {
    let total = try Int.fetchOne(db, sql: "SELECT tasks_total FROM jobs WHERE id = ?", arguments: [jobID]) ?? 0
    guard total + followUps.count <= JobTaskRules.maxTasks else {
      throw FarmError.invalidJob("\(followUps.count) more tasks would pass the limit of 1,000,000 tasks per job")
    }
    // The stored tasks the batch names, by key: as new keys (a clash) or as dependencies.
    var named = Set(followUps.map(\.key))
    for task in followUps { named.formUnion(task.dependsOn) }
    var known: [String: (id: Int64, done: Bool)] = [:]
    let find = try db.cachedStatement(sql: "SELECT id, state FROM tasks WHERE job_id = ? AND key = ?")
    for name in named {
      if let row = try Row.fetchOne(find, arguments: [jobID, name]) {
        known[name] = (row["id"], (row["state"] as String) == TaskState.done.rawValue || name == completing)
      }
    }
    let inputNames = try String.fetchAll(db, sql: "SELECT name FROM job_inputs WHERE job_id = ?", arguments: [jobID])
    let exportPaths = try String.fetchAll(db, sql: "SELECT path FROM task_exports WHERE job_id = ?", arguments: [jobID])
    var rules = JobTaskRules(inputNames: Set(inputNames), keys: Set(known.keys), exportPaths: Set(exportPaths))
    let produced = Set(outputs.map(\.name))
    let hasOutput = try db.cachedStatement(sql: "SELECT 1 FROM task_outputs WHERE task_id = ? AND name = ?")
    for task in followUps {
      try rules.admit(task)
      for binding in task.inputs where binding.jobInput.isEmpty {
        // Bound to an output of a dependency that already finished: it must exist.
        guard let dependency = known[binding.task], dependency.done else { continue }
        let exists = binding.task == completing
          ? produced.contains(binding.output)
          : try Bool.fetchOne(hasOutput, arguments: [dependency.id, binding.output]) ?? false
        guard exists else {
          throw FarmError.invalidJob(
            "task '\(task.key)' input '\(binding.name)' reads output '\(binding.output)' of '\(binding.task)', which that task did not produce")
        }
      }
    }
    return known
  }

  /// Records a failed attempt: requeues the task, or fails it and its job when it is not
  /// retryable or has failed `policy.maxTaskFailures` times; counts the failure against the
  /// worker for this job and blocklists it at `policy.blocklistAfter`.
  public func fail(
    taskID: Int64, epoch: Int64, worker: String, error: String, retryable: Bool, policy: FailurePolicy
  ) throws(FarmError) -> FailureOutcome {
    try write { db in
      let found = try JobStore.currentLease(db, taskID)
      if let reason = JobStore.staleness(found, epoch: epoch, worker: worker) {
        try JobStore.logEvent(db, "stale-failure", job: found?["job_id"], task: taskID, worker: worker,
                              "ignored a failure for epoch \(epoch): \(reason)")
        return .stale(reason)
      }
      let row = found!
      let jobID: String = row["job_id"]
      let key: String = row["key"]
      let failures: Int64 = row["failures"] + 1
      let now = JobStore.now()
      try db.cachedStatement(sql: "UPDATE leases SET ended = ?, outcome = 'failed', detail = ? WHERE task_id = ? AND epoch = ?")
        .execute(arguments: [now, error, taskID, epoch])
      try db.cachedStatement(sql: """
        INSERT INTO worker_failures (job_id, worker_id, failures) VALUES (?, ?, 1)
        ON CONFLICT (job_id, worker_id) DO UPDATE SET failures = failures + 1
        """).execute(arguments: [jobID, worker])
      let workerFailures = try Int.fetchOne(
        db, sql: "SELECT failures FROM worker_failures WHERE job_id = ? AND worker_id = ?", arguments: [jobID, worker]) ?? 0
      let blocklisted = workerFailures == policy.blocklistAfter
      if blocklisted {
        try JobStore.logEvent(db, "blocklisted", job: jobID, worker: worker,
                              "worker \(worker) failed \(workerFailures) tasks of job \(jobID) and is blocklisted for it")
      }
      try JobStore.logEvent(db, "task-failed", job: jobID, task: taskID, worker: worker,
                            "task \(key) attempt \(failures) failed on \(worker): \(error)")
      if !retryable || failures >= Int64(policy.maxTaskFailures) {
        try db.cachedStatement(sql: """
          UPDATE tasks SET state = 'failed', failures = ?, error = ?, error_worker = ?, worker = NULL, finished = ? WHERE id = ?
          """).execute(arguments: [failures, error, worker, now, taskID])
        let why = retryable ? "after \(failures) attempts" : "(not retryable)"
        let message = "task \(key) failed on worker \(worker) \(why): \(error)"
        let cancelled = try JobStore.failJob(db, jobID, message: message)
        return .jobFailed(jobID: jobID, cancelled: cancelled, blocklisted: blocklisted)
      }
      try db.cachedStatement(sql: "UPDATE tasks SET state = 'ready', failures = ?, error = ?, error_worker = ?, worker = NULL WHERE id = ?")
        .execute(arguments: [failures, error, worker, taskID])
      return .requeued(blocklisted: blocklisted)
    }
  }

  /// Ends a lease without a result: an expiry (counted, up to `policy.maxLostLeases`) or a
  /// hand-back from a draining worker (not counted). The task is ready again with the next
  /// lease's epoch, so anything the old holder still reports is stale.
  public func endLease(
    taskID: Int64, epoch: Int64, worker: String, loss: LeaseLoss, detail: String, policy: FailurePolicy
  ) throws(FarmError) -> FailureOutcome {
    try write { db in
      let found = try JobStore.currentLease(db, taskID)
      if let reason = JobStore.staleness(found, epoch: epoch, worker: worker) { return .stale(reason) }
      let row = found!
      let jobID: String = row["job_id"]
      let key: String = row["key"]
      let lost: Int64 = row["lost"] + (loss == .expired ? 1 : 0)
      try db.cachedStatement(sql: "UPDATE leases SET ended = ?, outcome = ?, detail = ? WHERE task_id = ? AND epoch = ?")
        .execute(arguments: [JobStore.now(), loss.rawValue, detail, taskID, epoch])
      try JobStore.logEvent(db, "lease-\(loss.rawValue)", job: jobID, task: taskID, worker: worker,
                            "task \(key) epoch \(epoch) on \(worker): \(detail)")
      if lost >= Int64(policy.maxLostLeases) {
        try db.execute(sql: "UPDATE tasks SET state = 'failed', lost = ?, error = ?, error_worker = ?, worker = NULL WHERE id = ?",
                       arguments: [lost, detail, worker, taskID])
        let cancelled = try JobStore.failJob(
          db, jobID, message: "task \(key) lost its lease \(lost) times (last on \(worker): \(detail))")
        return .jobFailed(jobID: jobID, cancelled: cancelled, blocklisted: false)
      }
      try db.cachedStatement(sql: "UPDATE tasks SET state = 'ready', lost = ?, worker = NULL WHERE id = ?")
        .execute(arguments: [lost, taskID])
      return .requeued(blocklisted: false)
    }
  }

  /// Marks a job failed and cancels its other leases; returns them so workers can be told.
  private static func failJob(_ db: Database, _ jobID: String, message: String) throws -> [LeaseRef] {
    try db.execute(sql: "UPDATE jobs SET state = 'failed', error = ?, finished = ? WHERE id = ? AND state = 'running'",
                   arguments: [message, now(), jobID])
    try logEvent(db, "job-failed", job: jobID, message)
    return try cancelLeases(db, jobID, reason: "job failed")
  }

  private static func cancelLeases(_ db: Database, _ jobID: String, reason: String) throws -> [LeaseRef] {
    let rows = try Row.fetchAll(db, sql: "SELECT id, epoch, worker FROM tasks WHERE job_id = ? AND state = 'leased'",
                                arguments: [jobID])
    let leases = rows.map { LeaseRef(taskID: $0["id"], epoch: $0["epoch"], worker: $0["worker"]) }
    for lease in leases {
      try db.execute(sql: "UPDATE leases SET ended = ?, outcome = 'cancelled', detail = ? WHERE task_id = ? AND epoch = ?",
                     arguments: [now(), reason, lease.taskID, lease.epoch])
    }
    try db.execute(sql: "UPDATE tasks SET state = 'cancelled', worker = NULL WHERE job_id = ? AND state IN ('leased', 'ready', 'waiting')",
                   arguments: [jobID])
    return leases
  }

  /// Cancels a running job; returns the leases to cancel on workers.
  public func cancel(jobID: String) throws(FarmError) -> [LeaseRef] {
    try write { db in
      guard let state = try String.fetchOne(db, sql: "SELECT state FROM jobs WHERE id = ?", arguments: [jobID]) else {
        throw FarmError.unknownJob(jobID)
      }
      guard state == JobState.running.rawValue else { return [] }
      try db.execute(sql: "UPDATE jobs SET state = 'cancelled', finished = ? WHERE id = ?", arguments: [JobStore.now(), jobID])
      try JobStore.logEvent(db, "job-cancelled", job: jobID, "cancelled by a client")
      return try JobStore.cancelLeases(db, jobID, reason: "job cancelled")
    }
  }

  /// Requeues a failed or cancelled job's unfinished tasks (failure counts and the job's
  /// blocklists reset); returns how many tasks were requeued.
  public func resume(jobID: String) throws(FarmError) -> Int {
    try write { db in
      guard let state = try String.fetchOne(db, sql: "SELECT state FROM jobs WHERE id = ?", arguments: [jobID]) else {
        throw FarmError.unknownJob(jobID)
      }
      guard state == JobState.failed.rawValue || state == JobState.cancelled.rawValue else { return 0 }
      try db.execute(sql: """
        UPDATE tasks SET state = CASE WHEN pending_deps <= 0 THEN 'ready' ELSE 'waiting' END,
          failures = 0, lost = 0, error = NULL, error_worker = NULL, worker = NULL
        WHERE job_id = ? AND state IN ('failed', 'cancelled')
        """, arguments: [jobID])
      let count = db.changesCount
      try db.execute(sql: "DELETE FROM worker_failures WHERE job_id = ?", arguments: [jobID])
      try db.execute(sql: "UPDATE jobs SET state = 'running', error = NULL, finished = NULL WHERE id = ?", arguments: [jobID])
      try JobStore.logEvent(db, "job-resumed", job: jobID, "requeued \(count) tasks")
      return count
    }
  }

  /// Every lease held right now (after a restart: the ones to wait for).
  public func activeLeases() throws(FarmError) -> [LeaseRef] {
    try read { db in
      try Row.fetchAll(db, sql: "SELECT id, epoch, worker FROM tasks WHERE state = 'leased'").map {
        LeaseRef(taskID: $0["id"], epoch: $0["epoch"], worker: $0["worker"])
      }
    }
  }

  /// The job, key and stage of a task.
  public func taskIdentity(_ taskID: Int64) throws(FarmError) -> (jobID: String, key: String, stage: String)? {
    try read { db in
      try Row.fetchOne(db, sql: "SELECT job_id, key, stage FROM tasks WHERE id = ?", arguments: [taskID])
        .map { ($0["job_id"], $0["key"], $0["stage"]) }
    }
  }

  /// The task's state and current epoch.
  public func taskState(_ taskID: Int64) throws(FarmError) -> (state: TaskState, epoch: Int64, worker: String?)? {
    try read { db in
      guard let row = try Row.fetchOne(db, sql: "SELECT state, epoch, worker FROM tasks WHERE id = ?", arguments: [taskID])
      else { return nil }
      return (TaskState(rawValue: row["state"]) ?? .failed, row["epoch"], row["worker"])
    }
  }

  /// Jobs whose worker has been blocklisted (failures at or above `threshold`).
  public func blocklistedJobs(worker: String, threshold: Int) throws(FarmError) -> [String] {
    try read { db in
      try String.fetchAll(db, sql: "SELECT job_id FROM worker_failures WHERE worker_id = ? AND failures >= ? ORDER BY job_id",
                          arguments: [worker, threshold])
    }
  }

  /// Records a worker's hello.
  public func recordWorker(id: String, name: String, publicKey: String, capabilities: Redub_V1_Capabilities) throws(FarmError) {
    try write { db in
      let now = JobStore.now()
      try db.execute(sql: """
        INSERT INTO workers (id, name, public_key, capabilities, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (id) DO UPDATE SET name = excluded.name, public_key = excluded.public_key,
          capabilities = excluded.capabilities, last_seen = excluded.last_seen
        """, arguments: [id, name, publicKey, try capabilities.serializedBytes() as Data, now, now])
      try JobStore.logEvent(db, "worker-hello", worker: id, "\(name) joined with \(capabilities.cores) cores, kinds \(capabilities.taskKinds.joined(separator: ","))")
    }
  }
}
