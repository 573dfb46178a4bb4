import ArgumentParser
import DemoWorld
import Dubbing
import Foundation
import Tensors

/// `redub demo`: the whole edit on built-in data, with nothing downloaded.
struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Run the built-in demo: the whole re-dubbing job on a synthetic clip with the demo model set.",
    discussion: """
      Writes into --folder (default ./demo): the demo model set (seeded random weights, from \
      `redub models demo`), a synthetic clip of a drawn face saying one sentence with its exact \
      landmarks, another sentence's audio as the dub, and then runs `redub edit` on them with short \
      step counts: every stage runs (prepare, invert, tune, optimize, merge, stitch, composite) \
      and demo/output.mp4 comes out with the dub muxed, plus a report with per-stage times, loss \
      terms and the seam metric. The networks are untrained, so the edit shows that the pipeline \
      works, not what a trained model does. Run it again to resume or reuse what exists.
      """)

  @OptionGroup var workers: LocalWorkerOptions

  @Option(help: ArgumentHelp("Folder for the demo's inputs, state and output.", valueName: "dir"))
  var folder = "demo"

  @Option(help: "Optimization steps per window (the stages' other step counts follow).")
  var steps = 10

  @Option(help: "Use only the demo clip's first N frames (default: all).")
  var frames: Int?

  @Flag(help: "Only write the demo models and inputs (for `redub submit` or scripts/local-cluster.sh --job demo).")
  var prepareOnly = false

  func validate() throws {
    if steps < 1 { throw ValidationError("--steps must be at least 1.") }
    if let frames, frames < 2 { throw ValidationError("--frames must be at least 2.") }
  }

  func run() throws {
    let root = URL(fileURLWithPath: folder)
    print("redub \(RedubVersion.string) demo, in \(root.path)")
    let workerCount = workers.apply(default: 2)
    let (models, inputs) = try Self.prepare(root, frames: frames) { print($0) }
    if prepareOnly {
      print("models: \(models.path)\ninputs: \(inputs.path) (clip.mp4, dub.wav, landmarks.safetensors)")
      return
    }
    print("3. the edit, every stage in this process on \(workerCount) worker(s)")
    let settings = Self.settings(steps: steps)
    let output = root.appendingPathComponent("output.mp4")
    let state = root.appendingPathComponent("state-\(steps)")
    let edit = try LocalEdit(
      inputs: .init(clip: inputs.appendingPathComponent("clip.mp4").path, audio: inputs.appendingPathComponent("dub.wav").path,
                    models: models.path, landmarks: inputs.appendingPathComponent("landmarks.safetensors").path, output: output.path),
      settings: settings, state: state,
      progress: EditProgressDisplay(indent: "   ").handler)
    edit.workers = workerCount
    let report = try edit.run()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    let reportURL = root.appendingPathComponent("report.json")
    try encoder.encode(report).write(to: reportURL, options: .atomic)
    let page = root.appendingPathComponent("report.html")
    try EditReportPage.write(report, clip: inputs.appendingPathComponent("clip.mp4").path, to: page)
    for note in report.notes { print("note: \(note)") }
    let times = EditStage.allCases.compactMap { s in report.seconds[s.rawValue].map { String(format: "%@ %.1f s", s.rawValue, $0) } }
    print("""

      Demo finished: \(report.frames) frames edited; seam metric \(String(format: "%.3f", report.seamMetric)).
      Stage times: \(times.isEmpty ? "all reused from an earlier run" : times.joined(separator: ", ")).
      Output: \(output.path)   Report: \(reportURL.path), \(page.path)
      The demo models are untrained (seeded random weights): the output shows the pipeline running end
      to end, not a real re-dub. Real models: see the README (scripts/convert_checkpoints.py, redub train).
      """)
  }

  /// The demo's settings: short windows and step counts for the tiny models.
  static func settings(steps: Int) -> EditSettings {
    var settings = EditSettings()
    settings.windowLength = 12
    settings.overlap = 4
    settings.optimizeSteps = steps
    settings.optimizeLearningRate = 1e-2
    settings.invertSteps = steps
    settings.tuneSteps = steps
    settings.stitchSteps = max(1, steps / 4)
    settings.fanInputSize = 64
    return settings
  }

  /// Writes the demo models and inputs under `root` unless they are there.
  static func prepare(_ root: URL, frames: Int? = nil, say: (String) -> Void = { _ in }) throws -> (models: URL, inputs: URL) {
    let models = root.appendingPathComponent("models"), inputs = root.appendingPathComponent("inputs")
    if !FileManager.default.fileExists(atPath: ModelFolder(models).path(.audioToLandmarks).path) {
      say("1. the demo model set (seeded random weights) → \(models.path)")
      try DemoModels.write(to: models)
    }
    if !FileManager.default.fileExists(atPath: inputs.appendingPathComponent("dub.wav").path) {
      say("2. a synthetic clip (a drawn face saying one sentence) and another sentence as the dub → \(inputs.path)")
      try DemoClip.write(to: inputs, frames: frames)
    }
    return (models, inputs)
  }
}
