import ArgumentParser
import Dubbing
import Farm
import Foundation

struct SubmitCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "submit",
    abstract: "Submit a job to the coordinator and print its id.",
    discussion: """
      `redub submit CLIP --audio DUB --models DIR --output OUT.mp4 [method options]` submits an \
      edit: the same tasks `redub edit` runs, spread over the farm's workers. Run it on the head \
      node: the clip, the dub, the models and the output folder must lie inside the coordinator's \
      --data-root (it reads them from there). The job's first task reads the clip and adds the \
      rest; when the job is done the coordinator writes OUT.mp4 (and, with --export-latents, \
      OUT.latents.safetensors). Follow it with `redub watch JOB` or `redub wait JOB`.

      SPEC is a job spec in protobuf JSON (redub.v1.JobSpec in Proto/redub/v1/farm.proto): name, \
      priority, inputs (files inside the coordinator's --data-root, by path), tasks (key, stage, \
      taskKind, parameters as base64, inputs bound to job inputs or to outputs of tasks they \
      dependOn) and outputDir.

      --diagnostic KIND submits a built-in diagnostic job instead, to check a farm end to end: \
      `sum` (--tasks tasks of diag.sum, each sleeping --steps (default 10) × --step-ms with progress), `fail` \
      (one diag.fail task, which fails every attempt), `blob` (--tasks diag.blob tasks each \
      returning --bytes bytes), `fanout` (one diag.fanout task that adds --tasks diag.sum tasks \
      and a gathering diag.sum task to its job as follow-ups; with --output-dir the job writes \
      only the gatherer's declared export, gathered-sum.txt, holding N·(N−1)/2 + N² for N tasks).

      --output-dir DIR (inside the coordinator's --data-root) receives the job's outputs when it \
      is done, replacing the spec's outputDir.
      """)

  @OptionGroup var address: CoordinatorAddressOptions

  @Argument(help: ArgumentHelp("Job spec file (protobuf JSON), or with --audio the clip to edit.", valueName: "spec-or-clip"))
  var spec: String?

  @Option(help: ArgumentHelp("Edit: the dubbed speech track.", valueName: "file"))
  var audio: String?

  @Option(help: ArgumentHelp("Edit: the models folder (see `redub models check`).", valueName: "dir"))
  var models: String?

  @Option(help: ArgumentHelp("Edit: where the coordinator writes the edited clip.", valueName: "file"))
  var output: String?

  @Option(help: ArgumentHelp("Edit: precomputed landmarks instead of detection and tracking.", valueName: "file"))
  var landmarks: String?

  @Flag(help: "Edit: also write the merged W+ latents next to the output (OUT.latents.safetensors).")
  var exportLatents = false

  @OptionGroup var method: EditMethodOptions

  @Option(help: ArgumentHelp("Edit: stages offered to workers with GPUs first, comma-separated, or none.", valueName: "stages"))
  var preferGpu = "invert,tune,optimize,stitch"

  /// The stages of --prefer-gpu.
  var gpuStages: [String] { preferGpu == "none" ? [] : preferGpu.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

  @Option(help: ArgumentHelp("Submit a built-in diagnostic job: sum, fail, blob or fanout.", valueName: "kind"))
  var diagnostic: String?

  @Option(help: "Tasks in a diagnostic job (for fanout: the follow-up parts).")
  var tasks = 10

  @Option(help: "Milliseconds per diag.sum step.")
  var stepMs = 100

  @Option(help: "Bytes per diag.blob result.")
  var bytes = 1 << 20

  @Option(help: "Job priority (higher runs first).")
  var priority: Int32 = 0

  @Option(help: "Job name.")
  var name: String?

  @Option(help: ArgumentHelp("Folder inside the coordinator's data root receiving the job's outputs (replaces the spec's outputDir).", valueName: "dir"))
  var outputDir: String?

  var isEdit: Bool { audio != nil || models != nil || output != nil }

  func validate() throws {
    if isEdit {
      guard spec != nil, audio != nil, models != nil, output != nil, diagnostic == nil else {
        throw ValidationError("an edit needs CLIP, --audio, --models and --output (and no --diagnostic).")
      }
      let stages = Set(EditStage.allCases.map(\.rawValue))
      if let unknown = gpuStages.first(where: { !stages.contains($0) }) {
        throw ValidationError("--prefer-gpu: no stage '\(unknown)' (stages: \(EditStage.allCases.map(\.rawValue).joined(separator: ", ")), or none).")
      }
      return
    }
    if (spec == nil) == (diagnostic == nil) { throw ValidationError("Give either a spec file or --diagnostic.") }
    if let diagnostic, !["sum", "fail", "blob", "fanout"].contains(diagnostic) {
      throw ValidationError("--diagnostic is sum, fail, blob or fanout.")
    }
    if tasks < 1 { throw ValidationError("--tasks must be at least 1.") }
    if diagnostic == "fanout" && tasks > FanoutTask.maxCount {
      throw ValidationError("--tasks is at most \(FanoutTask.maxCount) for --diagnostic fanout.")
    }
  }

  func run() throws {
    var job: Redub_V1_JobSpec
    if isEdit {
      job = try editJob()
    } else if let spec {
      let text = try String(contentsOfFile: spec, encoding: .utf8)
      job = try FarmJSON.jobSpec(from: text)
    } else {
      job = diagnosticJob()
    }
    if let name { job.name = name }
    if priority != 0 { job.priority = priority }
    if let outputDir { job.outputDir = outputDir }
    let client = try address.client()
    print(try client.submit(job))
  }

  func diagnosticJob() -> Redub_V1_JobSpec {
    var job = Redub_V1_JobSpec()
    job.name = "diagnostic-\(diagnostic!)"
    if diagnostic == "fanout" {
      // One task; the parts and the gatherer arrive as its follow-ups.
      job.tasks = [.with {
        $0.key = "fanout"
        $0.stage = "fanout"
        $0.taskKind = FanoutTask.kind
        $0.parameters = Data("{\"count\": \(tasks), \"steps\": \(method.steps ?? 10), \"stepMilliseconds\": \(stepMs)}".utf8)
      }]
      return job
    }
    let count = diagnostic == "fail" ? 1 : tasks
    job.tasks = (0..<count).map { index in
      var task = Redub_V1_TaskSpec()
      task.key = String(format: "\(diagnostic!)-%05d", index)
      task.stage = diagnostic!
      switch diagnostic {
      case "fail":
        task.taskKind = FailTask.kind
        task.parameters = Data(#"{"message": "diagnostic failure (diag.fail always fails)"}"#.utf8)
      case "blob":
        task.taskKind = BlobTask.kind
        task.parameters = Data("{\"bytes\": \(bytes), \"seed\": \(index + 1)}".utf8)
      default:
        task.taskKind = SumTask.kind
        task.parameters = Data("{\"value\": \(index), \"steps\": \(method.steps ?? 10), \"stepMilliseconds\": \(stepMs)}".utf8)
      }
      return task
    }
    return job
  }

  /// An edit job: checks the models here (the head node) so a missing network is named now,
  /// not when a worker reaches it.
  func editJob() throws -> Redub_V1_JobSpec {
    let folder = ModelFolder(URL(fileURLWithPath: models!))
    var settings = method.settings
    settings.preferGPU = gpuStages
    var first = try LocalEdit.firstTask(settings: settings, models: folder, hasLandmarks: landmarks != nil)
    for path in [spec!, audio!] + (landmarks.map { [$0] } ?? []) where !FileManager.default.fileExists(atPath: path) {
      throw ValidationError("no file at \(path)")
    }
    let out = URL(fileURLWithPath: output!).standardizedFileURL
    first.parameters.exportPaths = ["video": out.lastPathComponent]
    if exportLatents { first.parameters.exportPaths["latents"] = out.deletingPathExtension().lastPathComponent + ".latents.safetensors" }
    let clip = URL(fileURLWithPath: spec!).standardizedFileURL
    return EditFarmTasks.job(name: name ?? "edit-" + clip.deletingPathExtension().lastPathComponent, clip: clip.path,
                             audio: URL(fileURLWithPath: audio!).standardizedFileURL.path,
                             landmarks: landmarks.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                             models: folder, first: first, outputFolder: out.deletingLastPathComponent().path)
  }
}
