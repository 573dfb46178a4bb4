import ArgumentParser
import Dubbing
import Foundation

/// `redub edit CLIP --audio DUB --models DIR --output OUT.mp4`: the whole method in this process.
struct EditCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "edit",
    abstract: "Re-dub a clip in this process: prepare, invert, tune, optimize, merge, stitch, composite.",
    discussion: """
      Every step's result goes to the state folder (default: .NAME.redub next to the output) \
      before the next starts, so an interrupted edit continues with `redub edit --resume STATE` \
      and finished steps never run again. The defaults are the paper's settings. Frames without \
      a face stay unedited and are listed (--on-missing-face fail stops instead). `redub submit \
      CLIP --audio ...` runs the same tasks on a farm and computes the same bytes.
      """)

  @Argument(help: ArgumentHelp("The clip to edit.", valueName: "clip"))
  var clip: String?

  @Option(help: ArgumentHelp("The dubbed speech track.", valueName: "file"))
  var audio: String?

  @Option(help: ArgumentHelp("The models folder (see `redub models check`).", valueName: "dir"))
  var models: String?

  @Option(help: ArgumentHelp("Where to write the edited clip.", valueName: "file"))
  var output: String?

  @Option(help: ArgumentHelp("Precomputed landmarks (redub tools landmarks) instead of detection and tracking.", valueName: "file"))
  var landmarks: String?

  @Option(help: ArgumentHelp("State folder (default: .NAME.redub next to the output).", valueName: "dir"))
  var state: String?

  @Option(help: ArgumentHelp("Continue the edit whose state is in this folder.", valueName: "dir"))
  var resume: String?

  @OptionGroup var method: EditMethodOptions

  @OptionGroup var workers: LocalWorkerOptions

  func validate() throws {
    if resume == nil && (clip == nil || audio == nil || models == nil || output == nil) {
      throw ValidationError("give CLIP, --audio, --models and --output (or --resume STATE).")
    }
  }

  func run() throws {
    let progress = EditProgressDisplay().handler
    let edit: LocalEdit
    if let resume {
      edit = try LocalEdit.resume(state: URL(fileURLWithPath: resume), progress: progress)
      print("resuming the edit in \(resume)")
    } else {
      let settings = method.settings
      let out = URL(fileURLWithPath: output!)
      let stateURL = state.map { URL(fileURLWithPath: $0) }
        ?? out.deletingLastPathComponent().appendingPathComponent(".\(out.deletingPathExtension().lastPathComponent).redub")
      let inputs = LocalEdit.Inputs(clip: clip!, audio: audio!, models: models!, landmarks: landmarks, output: out.path)
      edit = try LocalEdit(inputs: inputs, settings: settings, state: stateURL, progress: progress)
      print("state folder: \(stateURL.path) (resume with: redub edit --resume \(stateURL.path))")
    }
    edit.workers = workers.apply()
    let report = try edit.run()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    try encoder.encode(report).write(to: edit.state.appendingPathComponent("report.json"), options: .atomic)
    for note in report.notes { print("note: \(note)") }
    let times = EditStage.allCases.compactMap { s in report.seconds[s.rawValue].map { String(format: "%@ %.1f s", s.rawValue, $0) } }
    print("\(report.frames) frames, \(report.edited) edited" + (report.missing.isEmpty ? "" : ", no face (unedited) in \(LandmarkTrackError.ranges(report.missing))"))
    print(String(format: "seam metric %.3f; ", report.seamMetric) + times.joined(separator: ", "))
    if let note = report.demoModelsNote { print("note: \(note)") }
    let page = edit.state.appendingPathComponent("report.html")
    try EditReportPage.write(report, clip: edit.inputs.clip, to: page)
    print("report: \(edit.state.appendingPathComponent("report.json").path) and \(page.path)")
    print("wrote \(report.output)")
  }
}
