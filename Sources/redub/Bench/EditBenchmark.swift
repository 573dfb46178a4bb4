import ArgumentParser
import Dubbing
import Farm
import Foundation
import Networks
import Tensors

struct EditBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "edit",
    abstract: "Per-stage seconds per frame of the demo edit, extrapolated to 1024², and the farm's overhead.",
    discussion: """
      Runs the demo job (`redub demo`'s inputs and settings, --steps per stage) twice: in one \
      process (`redub edit`'s way), timing each stage, and on a farm embedded in this process \
      (a coordinator and --workers workers on loopback), where the overhead is the job's wall \
      time minus the time the workers spent inside task code, as a share of the wall time.

      The 1024² column scales each stage's measured seconds per frame and step by the ratio of \
      its convolution FLOPs at 1024² (FFHQ StyleGAN2, LPIPS-VGG on the 1024² crop, FAN at 256², \
      BiSeNet on the crop) to those at the demo's size, and multiplies by the paper's step counts \
      (invert 300, optimize 300, stitch 100; tune 350 steps of 4 frames, shown per step). It \
      assumes the same GFLOP/s at both sizes, which is pessimistic: large convolutions run faster.
      """)

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var options: BenchOptions

  @Option(help: ArgumentHelp("Folder for the demo set and the runs' state (default: a new temporary folder).", valueName: "dir"))
  var folder: String?

  @Option(help: "Steps per stage (the demo's step counts).")
  var steps = 10

  @Option(help: "Workers of the embedded farm.")
  var workers = 1

  func validate() throws {
    if steps < 1 || workers < 1 { throw ValidationError("--steps and --workers must be at least 1.") }
  }

  func run() throws {
    runtime.apply()
    let root = folder.map { URL(fileURLWithPath: $0) }
      ?? FileManager.default.temporaryDirectory.appendingPathComponent("redub-bench-edit-\(UUID().uuidString.prefix(8))")
    defer { if folder == nil { try? FileManager.default.removeItem(at: root) } }
    let demo = try DemoCommand.prepare(root)
    let models = demo.models
    let settings = try DemoCommand.settings(steps: steps, models: ModelFolder(models))
    let edit = LocalEdit.Inputs(clip: demo.inputs.clip.path, audio: demo.inputs.dub.path,
                                models: models.path, landmarks: demo.inputs.clipLandmarks.path,
                                output: root.appendingPathComponent("bench-local.mp4").path)

    // In one process.
    let localState = root.appendingPathComponent("bench-local-\(UUID().uuidString.prefix(8))")
    let report = try LocalEdit(inputs: edit, settings: settings, state: localState).run()
    let frames = Double(report.edited)
    let scale = try Self.flopRatios(settings: settings, models: ModelFolder(models))
    var table = BenchReport(columns: ["stage", "tasks", "seconds", "s_per_frame", "s_per_frame_step", "flop_ratio", "s_per_frame_1024"],
                            json: options.json, widths: ["s_per_frame_step": 16, "s_per_frame_1024": 16])
    let paperSteps: [EditStage: (Int, Int)] = [.invert: (settings.invertSteps, 300), .optimize: (settings.optimizeSteps, 300),
                                               .stitch: (settings.stitchSteps, 100), .tune: (settings.tuneSteps, 350)]
    for stage in EditStage.allCases {
      guard let seconds = report.seconds[stage.rawValue] else { continue }
      var row: [String: Any] = ["stage": stage.rawValue, "tasks": report.ranSteps[stage.rawValue] ?? 0, "seconds": seconds,
                                "s_per_frame": seconds / frames, "frames": report.edited, "threads": Runtime.threads]
      if let (demoSteps, steps) = paperSteps[stage], demoSteps > 0, let ratio = scale[stage] {
        // Tuning's steps are batches of 4 frames whatever the clip's length: per step, not per frame.
        let perStep = stage == .tune ? seconds / Double(demoSteps) : seconds / frames / Double(demoSteps)
        row["s_per_frame_step"] = perStep
        row["flop_ratio"] = ratio
        row["s_per_frame_1024"] = perStep * ratio * Double(steps)
      }
      table.add(row)
    }

    // On an embedded farm: the same job, its overhead.
    let farmState = root.appendingPathComponent("bench-farm-\(UUID().uuidString.prefix(8))")
    let farm = try EmbeddedFarm(state: farmState, dataRoot: root, workers: workers)
    defer { farm.stop() }
    var first = try LocalEdit.firstTask(settings: settings, models: ModelFolder(models), hasLandmarks: true)
    first.parameters.exportPaths = ["video": "bench-farm.mp4"]
    let job = EditFarmTasks.job(name: "bench-edit", clip: edit.clip, audio: edit.audio, landmarks: edit.landmarks,
                                models: ModelFolder(models), first: first, outputFolder: root.path)
    let client = try farm.client()
    let start = ContinuousClock.now
    let id = try client.submit(job)
    let status = try client.wait(id, every: .milliseconds(20))
    let elapsed = ContinuousClock.now - start
    guard status.state == "done" else { throw ValidationError("the farm job \(status.state): \(status.error)") }
    let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    let overhead = max(wall - farm.computeSeconds, 0)
    var farmTable = BenchReport(columns: ["run", "workers", "tasks", "wall_s", "compute_s", "overhead_s", "overhead_share"],
                                json: options.json, widths: ["overhead_share": 14])
    if !options.json { print("") }
    farmTable.add(["run": "farm", "workers": workers, "tasks": Int(status.tasksTotal), "wall_s": wall, "compute_s": farm.computeSeconds,
                   "overhead_s": overhead, "overhead_share": overhead / wall, "threads": Runtime.threads])
  }

  /// Per stage: convolution FLOPs per frame and step at 1024² over those at the demo's size.
  static func flopRatios(settings: EditSettings, models: ModelFolder) throws -> [EditStage: Double] {
    let generator = try models.load(.generator, StyleGAN2Generator.init(contentsOf:)).configuration
    let crop = generator.size
    func tally(_ body: () -> Void) -> Double {
      let tally = ConvolutionTally()
      NetworkProfiling.$tally.withValue(tally) { body() }
      return tally.flops
    }
    let lpips = try models.load(.lpips) { try LPIPS(contentsOf: $0) }
    let fan = try models.load(.fan, FAN.init(contentsOf:))
    let parsing = try models.load(.parsing, BiSeNet.init(contentsOf:))
    let image = Tensor.randomUniform([1, 3, crop, crop], in: -1...1, seed: 1)
    let lpipsDemo = tally { _ = lpips.distance(image, image) }
    let fanDemo = tally { _ = fan.heatmaps(Tensor.randomUniform([1, 3, settings.fanInputSize, settings.fanInputSize], seed: 2)) }
    let parsingDemo = tally { _ = parsing.logits(image) }
    // Convolutions scale with pixels; the published FAN has 4 hourglasses where the demo's has one.
    let pixels = Double(1024 * 1024) / Double(crop * crop)
    let lpips1024 = lpipsDemo * pixels, parsing1024 = parsingDemo * pixels
    // The published FAN: 256² input, 4 hourglasses, a 256-channel trunk (convolutions scale with its square).
    let fan1024 = fanDemo * Double(256 * 256) / Double(settings.fanInputSize * settings.fanInputSize) * 4 / Double(fan.moduleCount)
      * pow(256 / Double(fan.width), 2)
    let gDemo = GeneratorBenchmark.forwardFLOPs(generator), g1024 = GeneratorBenchmark.forwardFLOPs(StyleGAN2Configuration(size: 1024))
    return [
      .invert: (g1024 + lpips1024) / (gDemo + lpipsDemo),
      .tune: (g1024 + lpips1024) / (gDemo + lpipsDemo),
      .optimize: (g1024 + lpips1024 + fan1024) / (gDemo + lpipsDemo + fanDemo),
      .stitch: (g1024 + parsing1024 / Double(max(settings.stitchSteps, 1))) / (gDemo + parsingDemo / Double(max(settings.stitchSteps, 1))),
    ]
  }
}
