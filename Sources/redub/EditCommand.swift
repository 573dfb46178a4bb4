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
      a face stay unedited and are listed (--on-missing-face fail stops instead). The farm runs \
      the same stages across machines (not wired yet: this command runs them locally).
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

  @Option(help: "Frames per optimization window.") var window = 24
  @Option(help: "Frames shared by neighbouring windows.") var overlap = 4
  @Option(help: "Optimization steps per window.") var steps = 300
  @Option(help: "Inversion steps.") var invertSteps = 300
  @Option(help: "Pivotal tuning steps.") var tuneSteps = 350
  @Option(help: "Stitching tuning steps per frame.") var stitchSteps = 100
  @Option(help: "Frames per invert/stitch chunk.") var chunk = 16
  @Option(help: "Cross-fade of window overlaps: linear or cosine.") var blend = "linear"
  @Option(help: "FAN's input side (256 for the published FAN).") var fanInputSize = 256
  @Option(help: "Frames without a face: skip (leave unedited) or fail.") var onMissingFace = "skip"
  @Option(help: "auto, or one of the audio-to-landmark model's emotions.") var emotion = "auto"
  @Option(help: "From neutral (0) to the chosen emotion (1).") var emotionStrength: Float = 1

  @OptionGroup var runtime: RuntimeOptions

  func validate() throws {
    if resume == nil && (clip == nil || audio == nil || models == nil || output == nil) {
      throw ValidationError("give CLIP, --audio, --models and --output (or --resume STATE).")
    }
    if window < 2 || overlap < 0 || overlap >= window { throw ValidationError("need --window ≥ 2 and 0 ≤ --overlap < --window.") }
    if steps < 1 || invertSteps < 1 || tuneSteps < 0 || stitchSteps < 0 || chunk < 1 {
      throw ValidationError("step counts and --chunk must be positive (--tune-steps and --stitch-steps may be 0).")
    }
    if !["linear", "cosine"].contains(blend) { throw ValidationError("--blend is linear or cosine.") }
    if !["skip", "fail"].contains(onMissingFace) { throw ValidationError("--on-missing-face is skip or fail.") }
    if fanInputSize < 64 || fanInputSize % 64 != 0 { throw ValidationError("--fan-input-size must be a multiple of 64.") }
  }

  func run() throws {
    runtime.apply()
    var bars: [EditStage: ProgressBar] = [:]
    let progress: LocalEdit.Progress = { stage, done, total, terms in
      if bars[stage] == nil { bars[stage] = ProgressBar(title: stage.rawValue, total: total) }
      bars[stage]!.update(done, note: terms.map { "\($0)" } ?? "")
    }
    let edit: LocalEdit
    if let resume {
      edit = try LocalEdit.resume(state: URL(fileURLWithPath: resume), progress: progress, log: { print($0) })
      print("resuming the edit in \(resume)")
    } else {
      var settings = EditSettings()
      settings.windowLength = window
      settings.overlap = overlap
      settings.optimizeSteps = steps
      settings.invertSteps = invertSteps
      settings.tuneSteps = tuneSteps
      settings.stitchSteps = stitchSteps
      settings.chunkFrames = chunk
      settings.blend = blend
      settings.fanInputSize = fanInputSize
      settings.onMissingFace = onMissingFace
      settings.emotion = emotion
      settings.emotionStrength = emotionStrength
      let out = URL(fileURLWithPath: output!)
      let stateURL = state.map { URL(fileURLWithPath: $0) }
        ?? out.deletingLastPathComponent().appendingPathComponent(".\(out.deletingPathExtension().lastPathComponent).redub")
      let inputs = LocalEdit.Inputs(clip: clip!, audio: audio!, models: models!, landmarks: landmarks, output: out.path)
      edit = try LocalEdit(inputs: inputs, settings: settings, state: stateURL, progress: progress, log: { print($0) })
      print("state folder: \(stateURL.path) (resume with: redub edit --resume \(stateURL.path))")
    }
    let report = try edit.run()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    try encoder.encode(report).write(to: edit.state.appendingPathComponent("report.json"), options: .atomic)
    let times = EditStage.allCases.compactMap { s in report.seconds[s.rawValue].map { String(format: "%@ %.1f s", s.rawValue, $0) } }
    print("\(report.frames) frames, \(report.edited) edited" + (report.missing.isEmpty ? "" : ", no face (unedited) in \(LandmarkTrackError.ranges(report.missing))"))
    print(String(format: "seam metric %.3f; ", report.seamMetric) + times.joined(separator: ", "))
    if report.demoModels { print("note: these are the demo models (seeded random weights): the pipeline ran, the edit means nothing") }
    print("report: \(edit.state.appendingPathComponent("report.json").path)")
    print("wrote \(report.output)")
  }
}
