import Foundation
import Media
import Networks
import Tensors

/// An edit job run task by task in this process — the same tasks the farm runs — every task's
/// outputs kept in the state folder (`tasks/KEY/`) before the next starts. A task whose
/// `result.json` exists is not run again, so an interrupted edit resumes where it stopped.
/// Crops live in chunk files, never all in memory at once.
public final class LocalEdit {
  public struct Inputs: Codable, Sendable, Equatable {
    public var clip: String
    public var audio: String
    public var models: String
    public var landmarks: String?
    public var output: String
    public init(clip: String, audio: String, models: String, landmarks: String?, output: String) {
      (self.clip, self.audio, self.models, self.landmarks, self.output) = (clip, audio, models, landmarks, output)
    }
  }

  /// Progress: the stage, steps done and total within the current task, the task's key, and
  /// the latest loss terms when the step has any.
  public typealias Progress = (EditStage, Int, Int, String, LossTerms?) -> Void

  public let inputs: Inputs
  public let settings: EditSettings
  public let state: URL
  let models: ModelFolder
  let progress: Progress
  /// Tasks that ran in this process (not taken from the state folder), by stage.
  public private(set) var ranSteps: [EditStage: Int] = [:]
  /// Seconds spent per stage in this process.
  public private(set) var seconds: [EditStage: Double] = [:]

  /// Opens (or creates) the state folder; a folder holding another job's state is refused.
  public init(inputs: Inputs, settings: EditSettings, state: URL, progress: @escaping Progress = { _, _, _, _, _ in }) throws {
    self.inputs = inputs
    self.settings = settings
    self.state = state
    self.models = ModelFolder(URL(fileURLWithPath: inputs.models))
    self.progress = progress
    try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
    let jobFile = state.appendingPathComponent("job.json")
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    let job = try encoder.encode(JobDescription(inputs: inputs, settings: settings))
    if let existing = try? Data(contentsOf: jobFile) {
      guard let old = try? JSONDecoder().decode(JobDescription.self, from: existing), old == JobDescription(inputs: inputs, settings: settings) else {
        throw EditError.stateMismatch("\(state.path) holds the state of another edit (job.json differs); use a new --state folder")
      }
    } else {
      try job.write(to: jobFile, options: .atomic)
    }
  }

  struct JobDescription: Codable, Equatable {
    var inputs: Inputs
    var settings: EditSettings
  }

  /// Reopens a state folder's edit.
  public static func resume(state: URL, progress: @escaping Progress = { _, _, _, _, _ in }) throws -> LocalEdit {
    let data: Data
    do { data = try Data(contentsOf: state.appendingPathComponent("job.json")) } catch {
      throw EditError.stateMismatch("\(state.path) holds no edit to resume (no job.json)")
    }
    let job = try JSONDecoder().decode(JobDescription.self, from: data)
    return try LocalEdit(inputs: job.inputs, settings: job.settings, state: state, progress: progress)
  }

  /// The first task of an edit of `inputs`: checks the models folder and reads the generator's
  /// resolution (the crop size).
  public static func firstTask(settings: EditSettings, models: ModelFolder, hasLandmarks: Bool) throws -> EditTask {
    for role in EditJobPlan.models(hasLandmarks: hasLandmarks) where !models.has(role) {
      throw ModelSetError.missing(folder: models.url.path, role: role)
    }
    let size = try models.load(.generator) { try StyleGAN2Configuration(metadata: SafeTensorsFile(contentsOf: $0).metadata).size }
    return EditJobPlan.prepare(EditTaskParameters(settings: settings, cropSize: size, hasLandmarks: hasLandmarks))
  }

  // MARK: Running

  /// What a finished task left in the state folder.
  struct StoredResult: Codable {
    var outputs: [String: String]
    var metrics: [String: Double]
    var followUps: [EditTask]
  }

  func folder(_ key: String) -> URL { state.appendingPathComponent("tasks").appendingPathComponent(key) }

  /// Runs every task that is not finished yet, then writes the outputs.
  public func run() throws -> EditReport {
    var queue = [try LocalEdit.firstTask(settings: settings, models: models, hasLandmarks: inputs.landmarks != nil)]
    var results: [String: StoredResult] = [:]
    var curves: [String: [[String: Double]]] = [:]
    var position = 0
    while position < queue.count {
      let task = queue[position]
      position += 1
      let result = try stored(task.key) ?? run(task, results: results)
      results[task.key] = result
      queue += result.followUps
      let curve = EditTaskResult.lossCurve(result.metrics)
      if !curve.isEmpty { curves[task.key] = curve }
      for (name, role) in task.exports where role == "video" {
        try export(folder(task.key).appendingPathComponent(result.outputs[name]!), to: URL(fileURLWithPath: inputs.output))
      }
    }
    let plan = try JSONDecoder().decode(EditPlan.self, from: Data(contentsOf: folder("prepare").appendingPathComponent(results["prepare"]!.outputs["plan"]!)))
    return EditReport(frames: plan.frameCount, edited: plan.editable.count, missing: plan.missing, notes: plan.audioNote.map { [$0] } ?? [],
                      seamMetric: results["merge"]?.metrics["seam_metric"] ?? 1,
                      seconds: Dictionary(uniqueKeysWithValues: seconds.map { ($0.key.rawValue, $0.value) }),
                      ranSteps: Dictionary(uniqueKeysWithValues: ranSteps.map { ($0.key.rawValue, $0.value) }),
                      lossCurves: curves,
                      demoModels: (try? SafeTensorsFile(contentsOf: models.path(.generator)))?.metadata["demo"] != nil,
                      output: inputs.output)
  }

  /// The result a previous run left, if the task finished.
  func stored(_ key: String) throws -> StoredResult? {
    guard let data = try? Data(contentsOf: folder(key).appendingPathComponent("result.json")) else { return nil }
    return try JSONDecoder().decode(StoredResult.self, from: data)
  }

  func run(_ task: EditTask, results: [String: StoredResult]) throws -> StoredResult {
    let start = ContinuousClock.now
    let taskFolder = folder(task.key)
    let scratch = taskFolder.appendingPathComponent(".scratch")
    try? FileManager.default.removeItem(at: taskFolder)
    let bindings = Dictionary(uniqueKeysWithValues: task.inputs.map { ($0.name, $0) })
    let runner = EditStageRunner(scratch: scratch, input: { name in
      guard let binding = bindings[name] else { throw EditError.stateMismatch("task \(task.key) has no input \(name)") }
      if let job = binding.jobInput { return try self.jobInput(job) }
      guard let key = binding.task, let output = binding.output, let file = results[key]?.outputs[output] else {
        throw EditError.stateMismatch("task \(task.key): input \(name) comes from a task that has not finished")
      }
      return self.folder(key).appendingPathComponent(file)
    }, progress: { done, total, terms in
      self.progress(task.stage, done, total, task.key, terms)
      return true
    })
    let result = try runner.run(task)
    // Outputs move into the task's folder; result.json, written last, marks the task done.
    var outputs: [String: String] = [:]
    for (name, url) in result.outputs {
      let file = name + (url.pathExtension.isEmpty ? "" : "." + url.pathExtension)
      try FileManager.default.moveItem(at: url, to: taskFolder.appendingPathComponent(file))
      outputs[name] = file
    }
    try? FileManager.default.removeItem(at: scratch)
    let stored = StoredResult(outputs: outputs, metrics: result.metrics, followUps: result.followUps)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    try encoder.encode(stored).write(to: taskFolder.appendingPathComponent("result.json"), options: .atomic)
    let d = ContinuousClock.now - start
    seconds[task.stage, default: 0] += Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    ranSteps[task.stage, default: 0] += 1
    return stored
  }

  func jobInput(_ name: String) throws -> URL {
    switch name {
    case EditJobPlan.clip: return URL(fileURLWithPath: inputs.clip)
    case EditJobPlan.audio: return URL(fileURLWithPath: inputs.audio)
    case EditJobPlan.landmarks:
      guard let landmarks = inputs.landmarks else { throw EditError.stateMismatch("this edit has no landmarks file") }
      return URL(fileURLWithPath: landmarks)
    default:
      guard let role = ModelRole.allCases.first(where: { EditJobPlan.model($0) == name }) else {
        throw EditError.stateMismatch("unknown job input \(name)")
      }
      guard models.has(role) else { throw ModelSetError.missing(folder: models.url.path, role: role) }
      return models.path(role)
    }
  }

  /// Puts a finished output at `target` atomically (a hard link when possible, else a copy).
  func export(_ source: URL, to target: URL) throws {
    let manager = FileManager.default
    let temporary = target.deletingLastPathComponent()
      .appendingPathComponent(".\(target.deletingPathExtension().lastPathComponent).partial.\(target.pathExtension)")
    try? manager.removeItem(at: temporary)
    do { try manager.linkItem(at: source, to: temporary) } catch { try manager.copyItem(at: source, to: temporary) }
    if rename(temporary.path, target.path) != 0 {
      throw EditError.stateMismatch("cannot write \(target.path): \(String(cString: strerror(errno)))")
    }
  }
}

/// What an edit did, for the terminal and the report file.
public struct EditReport: Codable, Sendable {
  public var frames: Int
  public var edited: Int
  public var missing: [Int]
  /// What the edit adjusted (a dub padded or trimmed to the clip).
  public var notes: [String]
  public var seamMetric: Double
  public var seconds: [String: Double]
  public var ranSteps: [String: Int]
  /// First and last loss terms of every optimizing task, by task key.
  public var lossCurves: [String: [[String: Double]]]
  /// True when the models are the demo set: the edit shows the pipeline works, nothing more.
  public var demoModels: Bool
  public var output: String
}
