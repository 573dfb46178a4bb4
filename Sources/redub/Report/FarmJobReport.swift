import Dubbing
import Farm
import Foundation
import Tensors

/// The report of a finished edit job on the farm, made on the head node from the coordinator's
/// job store and blob store: `report.html` and its PNG plots beside the job's output video
/// (`OUT.report.html`, `OUT.report.losses.png`, ...). The coordinator writes it when an edit job
/// finishes; `redub report JOB` writes it again.
enum FarmJobReport {
  enum Failure: Error, CustomStringConvertible {
    case notAnEdit(String), notDone(String, String), missing(String)
    var description: String {
      switch self {
      case .notAnEdit(let job): "job \(job) is not an edit (it has no edit.prepare task): there is no edit report to write"
      case .notDone(let job, let state): "job \(job) is \(state); its report is written once it is done"
      case .missing(let what): "the job store lacks \(what)"
      }
    }
  }

  /// Writes the report of `jobID` (with a ground-truth column in its contact sheet when
  /// `groundTruth` names a clip); returns the files written.
  static func write(jobID: String, store: JobStore, artifacts: ArtifactStore, blobs: BlobStore, groundTruth: String? = nil) throws -> [URL] {
    let job = try store.record(jobID: jobID)
    guard let prepare = job.tasks.first(where: { $0.kind == EditTask.kind(.prepare) }) else { throw Failure.notAnEdit(jobID) }
    guard job.state == "done" else { throw Failure.notDone(jobID, job.state) }
    guard let planHash = prepare.outputs["plan"] else { throw Failure.missing("the plan of \(jobID)'s prepare task") }
    let plan = try JSONDecoder().decode(EditPlan.self, from: artifacts.data(for: planHash))
    var seconds: [String: Double] = [:], ran: [String: Int] = [:]
    for task in job.tasks where task.state == "done" {
      seconds[task.stage, default: 0] += task.seconds
      ran[task.stage, default: 0] += 1
    }
    let metrics = Dictionary(job.tasks.map { ($0.key, $0.metrics) }) { a, _ in a }
    // Where the video went: the composite task's declared export.
    let export = try store.exports(jobID: jobID).first { $0.taskKey == "composite" && $0.output == "video" }
    let folder = URL(fileURLWithPath: job.outputDir)
    let video = folder.appendingPathComponent(export?.path ?? "\(job.name).mp4")
    let generator = job.inputs[EditJobPlan.model(.generator)].flatMap { try? blobs.url(for: $0) }
    let demo = generator.flatMap { try? SafeTensorsFile(contentsOf: $0) }?.metadata["demo"]
    let report = EditReport(plan: plan, metrics: metrics, seconds: seconds, ranSteps: ran, demoModels: demo, output: video.path)
    guard let clipHash = job.inputs[EditJobPlan.clip] else { throw Failure.missing("the clip of \(jobID)") }
    let page = video.deletingPathExtension().appendingPathExtension("report.html")
    var written = try EditReportPage.write(report, clip: try blobs.url(for: clipHash).path, groundTruth: groundTruth, to: page)
    let json = video.deletingPathExtension().appendingPathExtension("report.json")
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    try encoder.encode(report).write(to: json, options: .atomic)
    written.append(json)
    return written
  }
}
