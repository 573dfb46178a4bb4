import Foundation
import GRDB

/// A job input already in the blob store.
public struct StoredInput: Sendable, Equatable {
  public var name: String
  public var sha256: String
  public var size: UInt64
  public init(name: String, sha256: String, size: UInt64) {
    self.name = name
    self.sha256 = sha256
    self.size = size
  }
}

extension JobStore {
  /// Checks a job spec: unique task keys, dependencies declared earlier (so no cycles), inputs
  /// bound to a job input or to an output of a dependency.
  public static func validate(_ spec: Redub_V1_JobSpec, inputNames: Set<String>) throws(FarmError) {
    guard !spec.tasks.isEmpty else { throw FarmError.invalidJob("a job needs at least one task") }
    guard spec.tasks.count <= 1_000_000 else { throw FarmError.invalidJob("at most 1,000,000 tasks per job") }
    var keys = Set<String>()
    for task in spec.tasks {
      guard !task.key.isEmpty, task.key.utf8.count <= 200 else {
        throw FarmError.invalidJob("every task needs a key of 1 to 200 bytes")
      }
      guard !task.taskKind.isEmpty else { throw FarmError.invalidJob("task '\(task.key)' has no task kind") }
      guard !keys.contains(task.key) else { throw FarmError.invalidJob("task key '\(task.key)' appears twice") }
      for dependency in task.dependsOn where !keys.contains(dependency) {
        throw FarmError.invalidJob("task '\(task.key)' depends on '\(dependency)', which is not declared before it")
      }
      var names = Set<String>()
      for binding in task.inputs {
        guard !binding.name.isEmpty, names.insert(binding.name).inserted else {
          throw FarmError.invalidJob("task '\(task.key)' has an empty or repeated input name '\(binding.name)'")
        }
        if !binding.jobInput.isEmpty {
          guard inputNames.contains(binding.jobInput) else {
            throw FarmError.invalidJob("task '\(task.key)' reads job input '\(binding.jobInput)', which the job does not have")
          }
        } else {
          guard task.dependsOn.contains(binding.task), !binding.output.isEmpty else {
            throw FarmError.invalidJob(
              "task '\(task.key)' input '\(binding.name)' must name a job input, or an output of a task it depends on")
          }
        }
      }
      keys.insert(task.key)
    }
  }

  /// Records a new job whose inputs are already in the blob store; returns its id.
  public func submit(_ spec: Redub_V1_JobSpec, inputs: [StoredInput]) throws(FarmError) -> String {
    try JobStore.validate(spec, inputNames: Set(inputs.map(\.name)))
    let id = "j" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(11))
    let name = spec.name.isEmpty ? id : spec.name
    return try write { db in
      let seq = (try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs")) ?? 1
      try db.execute(
        sql: """
          INSERT INTO jobs (id, seq, name, priority, state, created, output_dir, tasks_total)
          VALUES (?, ?, ?, ?, 'running', ?, ?, ?)
          """,
        arguments: [id, seq, name, spec.priority, JobStore.now(), spec.outputDir, spec.tasks.count])
      for input in inputs {
        try db.execute(sql: "INSERT INTO job_inputs (job_id, name, sha256, size) VALUES (?, ?, ?, ?)",
                       arguments: [id, input.name, input.sha256, Int64(input.size)])
      }
      let insertTask = try db.cachedStatement(sql: """
        INSERT INTO tasks (job_id, key, stage, kind, spec, state, pending_deps, job_priority, job_seq)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        """)
      let insertDependency = try db.cachedStatement(sql: "INSERT INTO task_deps (task_id, depends_on) VALUES (?, ?)")
      var ids: [String: Int64] = [:]
      for task in spec.tasks {
        let dependencies = Array(Set(task.dependsOn))
        try insertTask.execute(arguments: [
          id, task.key, task.stage, task.taskKind, try task.serializedBytes() as Data,
          dependencies.isEmpty ? TaskState.ready.rawValue : TaskState.waiting.rawValue,
          dependencies.count, spec.priority, seq,
        ])
        let taskID = db.lastInsertedRowID
        ids[task.key] = taskID
        for dependency in dependencies {
          try insertDependency.execute(arguments: [taskID, ids[dependency]!])
        }
      }
      try JobStore.logEvent(db, "job-submitted", job: id, "\(name): \(spec.tasks.count) tasks, priority \(spec.priority)")
      return id
    }
  }
}

/// Where a task is in its life.
public enum TaskState: String, Sendable, CaseIterable {
  /// Waits for the tasks it depends on.
  case waiting
  /// Can be leased.
  case ready
  /// A worker holds a lease on it.
  case leased
  case done
  /// Failed for good (its job failed).
  case failed
  /// Its job was cancelled or failed before it ran.
  case cancelled
}

/// Where a job is in its life.
public enum JobState: String, Sendable {
  case running, done, failed, cancelled
}
