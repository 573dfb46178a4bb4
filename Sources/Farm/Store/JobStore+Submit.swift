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

/// The rules every task of a job obeys, whether submitted with the job or added later as a
/// follow-up of one of its tasks: keys unique within the job, dependencies declared earlier (so
/// no cycles), inputs bound to a job input or to an output of a dependency, export paths safe
/// and unique within the job. `admit` checks one task against what the job holds so far and
/// adds it.
struct JobTaskRules {
  /// The job's input names.
  var inputNames: Set<String>
  /// Keys of the job's tasks declared so far (for follow-ups: at least every stored key the
  /// batch names).
  var keys: Set<String>
  /// Export paths the job declares so far.
  var exportPaths: Set<String>

  init(inputNames: Set<String>, keys: Set<String> = [], exportPaths: Set<String> = []) {
    self.inputNames = inputNames
    self.keys = keys
    self.exportPaths = exportPaths
  }

  /// The most tasks one job may hold, follow-ups included.
  static let maxTasks = 1_000_000

  mutating func admit(_ task: Redub_V1_TaskSpec) throws(FarmError) {
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
    for (output, path) in task.exports.sorted(by: { $0.key < $1.key }) {
      guard !output.isEmpty else { throw FarmError.invalidJob("task '\(task.key)' exports an output with an empty name") }
      if let problem = JobTaskRules.exportPathProblem(path) {
        throw FarmError.invalidJob("task '\(task.key)' exports output '\(output)' to '\(path)', \(problem)")
      }
      if exportPaths.contains(path) {
        throw FarmError.invalidJob("task '\(task.key)' exports output '\(output)' to '\(path)', which another export of the job already writes")
      }
      // A file cannot also be a folder of another export.
      let components = path.split(separator: "/")
      for count in 1..<max(components.count, 1) {
        let folder = components.prefix(count).joined(separator: "/")
        if exportPaths.contains(folder) {
          throw FarmError.invalidJob("task '\(task.key)' exports output '\(output)' to '\(path)', inside '\(folder)', which another export of the job writes as a file")
        }
      }
      if let inside = exportPaths.first(where: { $0.hasPrefix(path + "/") }) {
        throw FarmError.invalidJob("task '\(task.key)' exports output '\(output)' to '\(path)', which another export of the job needs as the folder of '\(inside)'")
      }
      exportPaths.insert(path)
    }
    keys.insert(task.key)
  }

  /// What is wrong with an export path, or nil: it must be relative to the job's output
  /// folder and stay inside it, as plain names separated by "/".
  static func exportPathProblem(_ path: String) -> String? {
    if path.isEmpty { return "an empty path" }
    if path.hasPrefix("/") { return "an absolute path; give a path relative to the job's output_dir" }
    if path.utf8.count > 1024 { return "a path longer than 1024 bytes" }
    if path.contains("\0") || path.contains("\\") { return "a path with a NUL or backslash" }
    for component in path.split(separator: "/", omittingEmptySubsequences: false) {
      switch component {
      case "..": return "a path with a '..' component (it must stay inside the job's output_dir)"
      case ".": return "a path with a '.' component"
      case "": return "a path with an empty component (a doubled or trailing '/')"
      default: continue
      }
    }
    return nil
  }
}

extension JobStore {
  /// Checks a job spec: unique task keys, dependencies declared earlier (so no cycles), inputs
  /// bound to a job input or to an output of a dependency, export paths relative, inside the
  /// output folder and unique.
  public static func validate(_ spec: Redub_V1_JobSpec, inputNames: Set<String>) throws(FarmError) {
    guard !spec.tasks.isEmpty else { throw FarmError.invalidJob("a job needs at least one task") }
    guard spec.tasks.count <= JobTaskRules.maxTasks else { throw FarmError.invalidJob("at most 1,000,000 tasks per job") }
    var rules = JobTaskRules(inputNames: inputNames)
    for task in spec.tasks { try rules.admit(task) }
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
      _ = try JobStore.insertTasks(db, spec.tasks, jobID: id, priority: spec.priority, seq: seq, known: [:])
      try JobStore.logEvent(db, "job-submitted", job: id, "\(name): \(spec.tasks.count) tasks, priority \(spec.priority)")
      return id
    }
  }
}

extension JobStore {
  /// Inserts tasks (already checked by `JobTaskRules`) into job `jobID`, with their
  /// dependencies and exports. `known` maps keys of the job's stored tasks that the new tasks
  /// depend on to (id, done); a dependency counts as pending unless it is done. Returns the
  /// new tasks' ids by key.
  static func insertTasks(
    _ db: Database, _ tasks: [Redub_V1_TaskSpec], jobID: String, priority: Int32, seq: Int64,
    known: [String: (id: Int64, done: Bool)]
  ) throws -> [String: Int64] {
    let insertTask = try db.cachedStatement(sql: """
      INSERT INTO tasks (job_id, key, stage, kind, spec, state, pending_deps, job_priority, job_seq, prefer_gpu)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      """)
    let insertDependency = try db.cachedStatement(sql: "INSERT INTO task_deps (task_id, depends_on) VALUES (?, ?)")
    let insertExport = try db.cachedStatement(
      sql: "INSERT INTO task_exports (job_id, path, task_id, output) VALUES (?, ?, ?, ?)")
    var ids: [String: Int64] = [:]
    for task in tasks {
      let dependencies = Array(Set(task.dependsOn)).map { key in
        if let id = ids[key] { return (id: id, done: false) }
        return known[key]!
      }
      let pending = dependencies.filter { !$0.done }.count
      try insertTask.execute(arguments: [
        jobID, task.key, task.stage, task.taskKind, try task.serializedBytes() as Data,
        pending == 0 ? TaskState.ready.rawValue : TaskState.waiting.rawValue,
        pending, priority, seq, task.preferGpu,
      ])
      let taskID = db.lastInsertedRowID
      ids[task.key] = taskID
      for dependency in dependencies {
        try insertDependency.execute(arguments: [taskID, dependency.id])
      }
      for (output, path) in task.exports {
        try insertExport.execute(arguments: [jobID, path, taskID, output])
      }
    }
    return ids
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
