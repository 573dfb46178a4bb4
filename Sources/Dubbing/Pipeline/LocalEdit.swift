import Foundation
import Media
import Networks
import Tensors

/// An edit job run in this process — the same tasks the farm runs, on `workers` threads, each
/// task started once the tasks it reads from are finished — every task's outputs kept in the
/// state folder (`tasks/KEY/`). A task whose `result.json` exists is not run again, so an
/// interrupted edit resumes where it stopped. Crops live in chunk files, never all in memory.
///
/// Mutable state (`ranSteps`, `seconds`, the scheduler's queue) is only touched under `lock`,
/// and `progress` is only called under it, so the caller's handler needs no locking of its own.
public final class LocalEdit: @unchecked Sendable {
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

  /// Where a task stands, and its stage with it.
  public struct TaskProgress: Sendable {
    public var stage: EditStage
    public var key: String
    /// Steps done and total within the task.
    public var step: Int, steps: Int
    /// The latest loss terms, when the step has any.
    public var terms: LossTerms?
    /// The stage's tasks known so far, and how many of them are finished.
    public var stageTasks: Int, stageTasksDone: Int
    /// The stage's share done: finished tasks plus the fractions of running ones.
    public var stageFraction: Double
  }

  public typealias Progress = (TaskProgress) -> Void

  public let inputs: Inputs
  public let settings: EditSettings
  public let state: URL
  let models: ModelFolder
  let progress: Progress
  /// Tasks run at once (1: one after another). The caller sets the compute threads each task
  /// may use (`Runtime.setThreads`), typically the cores divided by the workers.
  public var workers = 1
  /// Tasks that ran in this process (not taken from the state folder), by stage.
  public private(set) var ranSteps: [EditStage: Int] = [:]
  /// Seconds the tasks of each stage ran in this process (summed over tasks running at once).
  public private(set) var seconds: [EditStage: Double] = [:]
  private let lock = NSLock()
  /// Per stage: tasks known, finished, and the running ones' fractions done.
  private var stageTasks: [EditStage: Int] = [:], stageDone: [EditStage: Int] = [:]
  private var runningFraction: [String: (stage: EditStage, fraction: Double, steps: Int)] = [:]

  /// Opens (or creates) the state folder; a folder holding another job's state is refused.
  public init(inputs: Inputs, settings: EditSettings, state: URL, progress: @escaping Progress = { _ in }) throws {
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
  public static func resume(state: URL, progress: @escaping Progress = { _ in }) throws -> LocalEdit {
    let data: Data
    do { data = try Data(contentsOf: state.appendingPathComponent("job.json")) } catch {
      throw EditError.stateMismatch("\(state.path) holds no edit to resume (no job.json)")
    }
    let job = try JSONDecoder().decode(JobDescription.self, from: data)
    return try LocalEdit(inputs: job.inputs, settings: job.settings, state: state, progress: progress)
  }

  /// The first task of an edit of `inputs`: checks the models folder and reads the generator's
  /// resolution (the crop size).
  /// and decides the inversion (`settings.inversion`: with "auto", e4e when the folder has it).
  public static func firstTask(settings: EditSettings, models: ModelFolder, hasLandmarks: Bool) throws -> EditTask {
    let useEncoder: Bool
    switch settings.inversion {
    case "encoder": useEncoder = true
    case "optimize": useEncoder = false
    case "auto": useEncoder = models.has(.encoder)
    default: throw EditError.stateMismatch("unknown inversion '\(settings.inversion)' (auto, encoder or optimize)")
    }
    let size = try models.load(.generator) { try StyleGAN2Configuration(metadata: SafeTensorsFile(contentsOf: $0).metadata).size }
    let parameters = EditTaskParameters(settings: settings, cropSize: size, hasLandmarks: hasLandmarks, useEncoder: useEncoder)
    for role in EditJobPlan.models(parameters) where !models.has(role) {
      throw ModelSetError.missing(folder: models.url.path, role: role)
    }
    return EditJobPlan.prepare(parameters)
  }

  // MARK: Running

  /// What a finished task left in the state folder.
  struct StoredResult: Codable {
    var outputs: [String: String]
    var metrics: [String: Double]
    var followUps: [EditTask]
  }

  func folder(_ key: String) -> URL { state.appendingPathComponent("tasks").appendingPathComponent(key) }

  /// Runs every task that is not finished yet, on up to `workers` threads, then writes the
  /// outputs. The first error stops the scheduling of new tasks; tasks already running finish
  /// (and stay done for a resume), then the error is thrown.
  public func run() throws -> EditReport {
    let first = try LocalEdit.firstTask(settings: settings, models: models, hasLandmarks: inputs.landmarks != nil)
    let scheduler = Scheduler(first)
    stageTasks = [first.stage: 1]
    let threads = (0..<max(1, workers)).map { index in
      let thread = Thread { [self] in work(scheduler) }
      thread.name = "edit-\(index + 1)"
      thread.stackSize = 16 << 20
      return thread
    }
    for thread in threads { thread.start() }
    scheduler.waitUntilFinished()
    if let failure = scheduler.failure { throw failure }
    let results = scheduler.results
    let plan = try JSONDecoder().decode(EditPlan.self, from: Data(contentsOf: folder("prepare").appendingPathComponent(results["prepare"]!.outputs["plan"]!)))
    return EditReport(plan: plan, metrics: results.mapValues(\.metrics),
                      seconds: Dictionary(uniqueKeysWithValues: seconds.map { ($0.key.rawValue, $0.value) }),
                      ranSteps: Dictionary(uniqueKeysWithValues: ranSteps.map { ($0.key.rawValue, $0.value) }),
                      demoModels: (try? SafeTensorsFile(contentsOf: models.path(.generator)))?.metadata["demo"],
                      output: inputs.output)
  }

  /// One worker thread: takes ready tasks until none are left or one failed.
  private func work(_ scheduler: Scheduler) {
    while let (task, results) = scheduler.next() {
      do {
        let result = try stored(task.key) ?? run(task, results: results)
        for (name, role) in task.exports where role == "video" {
          try export(folder(task.key).appendingPathComponent(result.outputs[name]!), to: URL(fileURLWithPath: inputs.output))
        }
        locked {
          stageDone[task.stage, default: 0] += 1
          let last = runningFraction.removeValue(forKey: task.key)
          for followUp in result.followUps { stageTasks[followUp.stage, default: 0] += 1 }
          // A task that ran reports its end, so the stage's line shows it finished.
          if let last { report(task, step: last.steps, steps: last.steps, terms: nil) }
        }
        scheduler.finished(task, result)
      } catch {
        scheduler.failed(error)
      }
    }
  }

  /// Calls `progress` for `task` with its stage's standing; under `lock`.
  private func report(_ task: EditTask, step: Int, steps: Int, terms: LossTerms?) {
    let known = stageTasks[task.stage] ?? 1, finished = stageDone[task.stage] ?? 0
    let running = runningFraction.values.filter { $0.stage == task.stage }.reduce(0) { $0 + $1.fraction }
    progress(TaskProgress(stage: task.stage, key: task.key, step: step, steps: steps, terms: terms,
                          stageTasks: known, stageTasksDone: finished,
                          // 100 % only once every task finished (a bar ends at 100 %).
                          stageFraction: finished >= known ? 1 : min(0.999, (Double(finished) + running) / Double(max(known, 1)))))
  }

  private func locked<T>(_ body: () throws -> T) rethrows -> T {
    lock.lock()
    defer { lock.unlock() }
    return try body()
  }

  /// The job's tasks: which are ready (every task they read from finished), which run, which are
  /// done. Tasks start in the order they became known, so one worker runs the plan's order.
  final class Scheduler: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting: [EditTask]
    private var running = 0
    private var done: [String: StoredResult] = [:]
    private var error: Error?

    init(_ first: EditTask) { waiting = [first] }

    /// The next ready task and the results so far; nil when the job is finished or failed.
    func next() -> (EditTask, [String: StoredResult])? {
      condition.lock()
      defer { condition.unlock() }
      while true {
        if error != nil { return nil }
        if let index = waiting.firstIndex(where: { $0.dependsOn.allSatisfy { done[$0] != nil } }) {
          running += 1
          return (waiting.remove(at: index), done)
        }
        if waiting.isEmpty && running == 0 { return nil }
        condition.wait()
      }
    }

    func finished(_ task: EditTask, _ result: StoredResult) {
      condition.lock()
      done[task.key] = result
      waiting += result.followUps
      running -= 1
      condition.broadcast()
      condition.unlock()
    }

    func failed(_ failure: Error) {
      condition.lock()
      if error == nil { error = failure }
      running -= 1
      condition.broadcast()
      condition.unlock()
    }

    /// Returns once every task finished, or one failed and the running ones stopped.
    func waitUntilFinished() {
      condition.lock()
      while !((error != nil || waiting.isEmpty) && running == 0) { condition.wait() }
      condition.unlock()
    }

    var failure: Error? { condition.withLock { error } }
    var results: [String: StoredResult] { condition.withLock { done } }
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
      self.locked {
        self.runningFraction[task.key] = (task.stage, Double(done) / Double(max(total, 1)), total)
        self.report(task, step: done, steps: total, terms: terms)
      }
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
    locked {
      seconds[task.stage, default: 0] += Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
      ranSteps[task.stage, default: 0] += 1
    }
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
  /// The loss terms of every optimizing task, by task key: up to 16 evenly spaced steps, the
  /// first and the last included.
  public var lossCurves: [String: [[String: Double]]]
  /// The seam at each window boundary (frame index among the edited frames → jump / median).
  public var seams: [String: Double]
  /// The generator's `demo` metadata when the models are a demo set ("seeded random weights" from
  /// `redub models demo`, or how `redub train demo-world` trained it); nil for real models.
  public var demoModels: String?
  /// What a reader of the report must know about a demo model set; nil for real models.
  public var demoModelsNote: String? {
    guard let demoModels else { return nil }
    if demoModels.contains("seeded random") {
      return "these are the demo models (\(demoModels)): the pipeline ran, the edit means nothing"
    }
    return "these are the demo models (\(demoModels)): tiny networks; real footage needs the official models"
  }
  public var output: String

  /// The report of a finished job from its plan and its tasks' metrics by task key; `seconds`
  /// and `ranSteps` count what ran (by stage).
  public init(plan: EditPlan, metrics: [String: [String: Double]], seconds: [String: Double], ranSteps: [String: Int],
              demoModels: String?, output: String) {
    frames = plan.frameCount
    edited = plan.editable.count
    missing = plan.missing
    notes = plan.audioNote.map { [$0] } ?? []
    seamMetric = metrics["merge"]?["seam_metric"] ?? 1
    seams = Dictionary(uniqueKeysWithValues: EditTaskResult.seams(metrics["merge"] ?? [:]).map { (String($0.frame), $0.value) })
    self.seconds = seconds
    self.ranSteps = ranSteps
    lossCurves = metrics.compactMapValues { m in
      let sampled = EditTaskResult.sampledCurve(m).map(\.terms)
      let curve = sampled.isEmpty ? EditTaskResult.lossCurve(m) : sampled
      return curve.isEmpty ? nil : curve
    }
    self.demoModels = demoModels
    self.output = output
  }
}
