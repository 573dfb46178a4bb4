import Foundation
import GRDB

/// What a job report reads: the job, its inputs, and every task with its compute seconds,
/// metrics and outputs.
public struct JobRecord: Sendable {
  public struct Task: Sendable {
    public var key: String
    public var stage: String
    public var kind: String
    public var state: String
    /// Compute seconds as the worker measured them (0 before the task finished).
    public var seconds: Double
    public var metrics: [String: Double]
    /// Output name → blob hash.
    public var outputs: [String: String]
  }

  public var id: String
  public var name: String
  public var state: String
  public var outputDir: String
  /// Job input name → blob hash.
  public var inputs: [String: String]
  public var tasks: [Task]
}

extension JobStore {
  /// The job `jobID` as a report reads it.
  public func record(jobID: String) throws(FarmError) -> JobRecord {
    try read { db in
      guard let job = try Row.fetchOne(db, sql: "SELECT name, state, output_dir FROM jobs WHERE id = ?", arguments: [jobID]) else {
        throw FarmError.unknownJob(jobID)
      }
      var inputs: [String: String] = [:]
      for row in try Row.fetchAll(db, sql: "SELECT name, sha256 FROM job_inputs WHERE job_id = ?", arguments: [jobID]) {
        inputs[row["name"]] = row["sha256"]
      }
      var metrics: [Int64: [String: Double]] = [:], outputs: [Int64: [String: String]] = [:]
      for row in try Row.fetchAll(db, sql: """
        SELECT m.task_id, m.name, m.value FROM task_metrics m JOIN tasks t ON t.id = m.task_id WHERE t.job_id = ?
        """, arguments: [jobID]) {
        metrics[row["task_id"], default: [:]][row["name"]] = row["value"]
      }
      for row in try Row.fetchAll(db, sql: """
        SELECT o.task_id, o.name, o.sha256 FROM task_outputs o JOIN tasks t ON t.id = o.task_id WHERE t.job_id = ?
        """, arguments: [jobID]) {
        outputs[row["task_id"], default: [:]][row["name"]] = row["sha256"]
      }
      let tasks = try Row.fetchAll(db, sql: "SELECT id, key, stage, kind, state, seconds FROM tasks WHERE job_id = ? ORDER BY id",
                                   arguments: [jobID]).map { row -> JobRecord.Task in
        let id: Int64 = row["id"]
        return JobRecord.Task(key: row["key"], stage: row["stage"], kind: row["kind"], state: row["state"],
                              seconds: row["seconds"] ?? 0, metrics: metrics[id] ?? [:], outputs: outputs[id] ?? [:])
      }
      return JobRecord(id: jobID, name: job["name"], state: job["state"], outputDir: job["output_dir"], inputs: inputs, tasks: tasks)
    }
  }
}
