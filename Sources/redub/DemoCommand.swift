import ArgumentParser
import DemoWorld
import Dubbing
import Foundation
import Networks
import Tensors

/// `redub demo`: the whole edit on built-in data, with nothing downloaded, measured against the
/// ground truth.
struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Run the built-in demo: re-dub a synthetic talking face with the trained demo models and measure the edit.",
    discussion: """
      Writes into --folder (default ./demo): the demo model set (the tiny networks trained on the \
      synthetic world by `redub train demo-world` and shipped with redub, plus seeded LPIPS and \
      S3FD), a clip of a drawn speaker saying sentence A (espeak-ng), sentence B's audio as the \
      dub and the ground truth (the same speaker, head motion and blinks, the mouth following B), \
      then runs the whole edit (prepare, invert, tune, optimize, merge, stitch, composite) and \
      measures it: the mouth landmark distance (M-LD) of the edited clip to the ground truth beside \
      the unedited clip's, PSNR outside the face against the original, and the seam metric. \
      demo/output.mp4 comes out with the dub muxed, with report.html (original, edited and \
      ground-truth frames side by side) and measurement.json. Run it again to reuse what exists.
      """)

  @OptionGroup var workers: LocalWorkerOptions

  @Option(help: ArgumentHelp("Folder for the demo's inputs, state and output.", valueName: "dir"))
  var folder = "demo"

  @Option(help: "Optimization steps per window (inversion takes as many, pivotal tuning ten times as many batches of 4, stitching a quarter).")
  var steps = 15

  @Option(help: "λ_fan of the window optimization (default: the paper's 5e-3, as `redub edit`).")
  var fanWeight: Float?

  @Option(help: ArgumentHelp("L_fan's landmark weights by group, as `redub edit` (e.g. mouth=3,eyes=2,jaw=1).", valueName: "group=weight,..."))
  var landmarkWeights: String?

  @Option(help: "Use only the demo clip's first N frames (default: all).")
  var frames: Int?

  @Flag(help: "Only write the demo models and inputs (for `redub submit` or scripts/local-cluster.sh --job demo).")
  var prepareOnly = false

  func validate() throws {
    if steps < 1 { throw ValidationError("--steps must be at least 1.") }
    if let frames, frames < 2 { throw ValidationError("--frames must be at least 2.") }
    if let fanWeight, !(fanWeight >= 0 && fanWeight.isFinite) { throw ValidationError("--fan-weight must be a number ≥ 0.") }
    if let landmarkWeights {
      do { _ = try LandmarkGroup.weights(landmarkWeights) } catch { throw ValidationError("--landmark-weights: \(error)") }
    }
  }

  func run() throws {
    let root = URL(fileURLWithPath: folder)
    print("redub \(RedubVersion.string) demo, in \(root.path)")
    let workerCount = workers.apply(default: 2)
    let demo = try Self.prepare(root, frames: frames) { print($0) }
    if prepareOnly {
      print("models: \(demo.models.path)\ninputs: \(demo.inputs.clip.deletingLastPathComponent().path) (clip.mp4, dub.wav, clip_landmarks.safetensors, truth.mp4)")
      return
    }
    print("3. the edit, every stage in this process on \(workerCount) worker(s)")
    let output = root.appendingPathComponent("output.mp4")
    var settings = try Self.settings(steps: steps, models: ModelFolder(demo.models))
    if let fanWeight { settings.fanWeight = fanWeight }
    if let landmarkWeights { settings.landmarkWeights = try LandmarkGroup.weights(landmarkWeights) }
    // One state folder per setting, so a rerun with other settings does not reuse results.
    let weightsName = landmarkWeights.map { "-" + $0.filter { $0.isLetter || $0.isNumber || $0 == "." } }
    let state = root.appendingPathComponent("state-\(steps)" + (fanWeight.map { "-fan\($0)" } ?? "") + (weightsName ?? ""))
    let edit = try LocalEdit(
      inputs: .init(clip: demo.inputs.clip.path, audio: demo.inputs.dub.path, models: demo.models.path,
                    landmarks: demo.inputs.clipLandmarks.path, output: output.path),
      settings: settings, state: state,
      progress: EditProgressDisplay(indent: "   ").handler)
    edit.workers = workerCount
    let report = try edit.run()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    let reportURL = root.appendingPathComponent("report.json")
    try encoder.encode(report).write(to: reportURL, options: .atomic)
    let page = root.appendingPathComponent("report.html")
    try EditReportPage.write(report, clip: demo.inputs.clip.path, groundTruth: demo.inputs.truth.path, to: page)
    for note in report.notes { print("note: \(note)") }
    let times = EditStage.allCases.compactMap { s in report.seconds[s.rawValue].map { String(format: "%@ %.1f s", s.rawValue, $0) } }

    print("4. measuring the edit against the ground truth")
    let measurement = try Self.measure(demo, output: output, seamMetric: report.seamMetric)
    try encoder.encode(measurement).write(to: root.appendingPathComponent("measurement.json"), options: .atomic)
    print("""

      Demo finished: \(report.frames) frames edited. Stage times: \(times.isEmpty ? "all reused from an earlier run" : times.joined(separator: ", ")).
      \(measurement.summary)
      Output: \(output.path)   Report: \(page.path)   Measurement: \(root.appendingPathComponent("measurement.json").path)
      The demo models are tiny networks trained on a synthetic world (redub train demo-world); real
      footage needs the official models (see the README: scripts/convert_checkpoints.py).
      """)
  }

  /// The demo's settings for the tiny trained models (FAN reads crops at its own input size).
  static func settings(steps: Int, models: ModelFolder) throws -> EditSettings {
    var settings = EditSettings()
    settings.windowLength = 12
    settings.overlap = 4
    settings.optimizeSteps = steps
    settings.optimizeLearningRate = 1e-2
    settings.invertSteps = steps
    // Pivotal tuning is cheap (4 frames a step) and is what makes the tiny generator render this
    // speaker sharply, so it gets ten times the steps.
    settings.tuneSteps = 10 * steps
    settings.stitchSteps = max(1, steps / 4)
    settings.fanInputSize = try models.load(.fan) { try FAN(contentsOf: $0) }.inputSize
    return settings
  }

  struct Prepared {
    var models: URL
    var inputs: TalkingClip.Files
    var clip: TalkingClip
  }

  /// The demo clip: seed 1's speaker (in the generator's training cast) saying the default
  /// sentences, cut to `frames`.
  static func clip(frames: Int?) throws -> TalkingClip {
    let clip = try TalkingClip.make(ClipConfiguration(seed: 1))
    return frames.map { clip.prefix($0) } ?? clip
  }

  /// Writes the demo models and inputs under `root` unless they are there.
  static func prepare(_ root: URL, frames: Int? = nil, say: (String) -> Void = { _ in }) throws -> Prepared {
    let models = root.appendingPathComponent("models"), inputs = root.appendingPathComponent("inputs")
    if !FileManager.default.fileExists(atPath: ModelFolder(models).path(.audioToLandmarks).path) {
      say("1. the demo model set (trained tiny networks) → \(models.path)")
      try DemoModels.write(to: models)
      let installed = try TrainedModels.install(into: models)
      guard !installed.isEmpty else {
        throw ValidationError("this redub was built without the demo's trained models (Sources/DemoWorld/TrainedModels); remake them with scripts/train-demo-models.sh")
      }
    }
    let clip = try clip(frames: frames)
    let files = TalkingClip.Files(folder: inputs)
    if !FileManager.default.fileExists(atPath: files.description.path) {
      say("2. a talking face saying one sentence, another sentence as the dub, and the ground truth → \(inputs.path)")
      try clip.write(to: inputs)
    }
    return Prepared(models: models, inputs: files, clip: clip)
  }

  /// M-LD against the truth (landmarks measured by the demo FAN in the truth's face boxes) and
  /// PSNR outside the face.
  static func measure(_ demo: Prepared, output: URL, seamMetric: Double) throws -> DemoMeasurement {
    let fan = try ModelFolder(demo.models).load(.fan) { try FAN(contentsOf: $0) }
    let boxes = try LandmarkTrack(contentsOf: demo.inputs.truthLandmarks)
    var bar: ProgressBar?
    var measurement = try DemoMeasurement.measure(
      edited: output.path, clip: demo.inputs.clip.path, truth: demo.inputs.truth.path, talking: demo.clip, seamMetric: seamMetric,
      landmarks: { FaceBoxLandmarks(boxes: boxes, estimator: FANLandmarkEstimator(network: fan), path: demo.inputs.truthLandmarks.path) },
      describe: "the demo FAN in the ground truth's face boxes, decoded sub-pixel, on every video") { what, done, total in
        if done <= 1 || bar == nil { bar = ProgressBar(title: "   " + what, total: total) }
        bar!.update(done)
      }
    let clipTrack = try LandmarkTrack(contentsOf: demo.inputs.clipLandmarks)
    let distances = try DemoMeasurement.targetDistances(
      model: try ModelFolder(demo.models).load(.audioToLandmarks) { try AudioToLandmarksModel(contentsOf: $0) },
      dub: demo.inputs.dub, clipVideo: demo.inputs.clip, clip: clipTrack, truth: boxes, fps: clipTrack.frameRate)
    measurement.targetMouthDistance = distances.target
    measurement.exactUneditedMouthDistance = distances.unedited
    return measurement
  }
}
