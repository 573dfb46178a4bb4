import ArgumentParser
import Farm
import Foundation

/// `redub report JOB --state DIR`: writes a finished edit job's report again, on the head node.
struct ReportCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "report",
    abstract: "Write a finished edit job's report (report.html and PNG plots beside its output video) again.",
    discussion: """
      The coordinator writes the report when an edit job finishes: OUT.report.html (self-contained: \
      summary, stage times, loss curves per task, the seam at each window boundary, frames left \
      unedited for lack of a face, a contact sheet of original and edited frames at a few \
      timestamps), OUT.report.json and the pictures as OUT.report.stages.png, .losses.png, \
      .seams.png and .contact.png. This command writes them again from the coordinator's state \
      folder, which it only reads (the coordinator may be running); --ground-truth adds a third \
      column to the contact sheet.
      """)

  @Argument(help: ArgumentHelp("The job id (see `redub status`).", valueName: "job"))
  var job: String

  @Option(help: ArgumentHelp("The coordinator's state folder (its --state).", valueName: "dir"))
  var state: String

  @Option(name: .customLong("ground-truth"),
          help: ArgumentHelp("A clip of what the edit should look like, frame for frame: shown beside the original and the edit.",
                             valueName: "clip"))
  var groundTruth: String?

  func run() throws {
    let folder = URL(fileURLWithPath: state)
    let database = folder.appendingPathComponent("farm.sqlite")
    guard FileManager.default.fileExists(atPath: database.path) else {
      throw ValidationError("\(state) is not a coordinator's state folder (no farm.sqlite)")
    }
    if let groundTruth, !FileManager.default.fileExists(atPath: groundTruth) {
      throw ValidationError("--ground-truth \(groundTruth): no such file; give the clip the edit should match")
    }
    let store = try JobStore(readOnlyAt: database)
    let blobs = try BlobStore(root: folder.appendingPathComponent("blobs"))
    let files = try FarmJobReport.write(jobID: job, store: store, artifacts: ArtifactStore(blobs: blobs, store: store), blobs: blobs,
                                        groundTruth: groundTruth)
    for file in files { print("wrote \(file.path)") }
  }
}
