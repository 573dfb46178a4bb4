import Dubbing
import Farm
import Foundation
import Media

/// The edit stages as farm task kinds ("edit.prepare" … "edit.composite"): a worker runs
/// `EditStageRunner` — the code `redub edit` runs in one process — on its cached inputs.
enum EditFarmTasks {
  /// Adds every edit kind to `registry`.
  static func register(in registry: inout TaskRegistry) {
    for stage in EditStage.allCases {
      registry.register(kind: EditTask.kind(stage)) { bytes, context in try run(stage, parameters: bytes, context: context) }
    }
  }

  /// Thumbnails for the web monitor: at most this many pixels a side, one per this interval.
  static let thumbnailSide = 96
  static let thumbnailInterval = Duration.seconds(1)

  static func run(_ stage: EditStage, parameters bytes: Data, context: TaskContext) throws -> TaskProduct {
    let parameters: EditTaskParameters
    do { parameters = try EditTaskParameters.decode(bytes) } catch {
      throw TaskError("bad parameters for \(EditTask.kind(stage)): \(error)", retryable: false)
    }
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("redub-task-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let started = ContinuousClock.now
    // The latest render goes with the next progress report, at most one a second.
    var thumbnail: TaskThumbnail?
    var lastThumbnail: ContinuousClock.Instant?
    let runner = EditStageRunner(scratch: scratch, input: { name in
      guard let url = context.inputFiles[name] else {
        throw TaskError("task \(context.taskKey) has no input '\(name)'", retryable: false)
      }
      return url
    }, progress: { done, total, terms in
      let elapsed = ContinuousClock.now - started
      let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
      context.report(TaskProgress(iteration: UInt64(max(done, 0)), total: UInt64(max(total, 1)),
                                  losses: terms.map { $0.values.merging(["total": $0.total]) { a, _ in a } } ?? [:],
                                  etaSeconds: done > 0 ? seconds / Double(done) * Double(max(total - done, 0)) : nil,
                                  thumbnail: thumbnail))
      thumbnail = nil
      return !context.isCancelled
    }, preview: { caption, image in
      let now = ContinuousClock.now
      if let last = lastThumbnail, now - last < thumbnailInterval { return }
      lastThumbnail = now
      let png = image().scaled(toFit: thumbnailSide).png()
      if png.count <= Wire.thumbnailLimit { thumbnail = TaskThumbnail(png: png, caption: caption) }
    })
    let task = EditTask(key: context.taskKey, stage: stage, parameters: parameters, inputs: [], dependsOn: [])
    let result: EditTaskResult
    do {
      result = try runner.run(task)
    } catch EditError.cancelled {
      throw TaskCancelled()
    } catch let error as EditError {
      // The clip itself is wrong (no face, faces missing with --on-missing-face fail): running again cannot help.
      throw TaskError(describe(error, context), retryable: false)
    } catch let error as ModelSetError {
      throw TaskError(describe(error, context), retryable: false)
    } catch let error as MediaError where stage == .prepare {
      // The job's clip or dub does not decode: the same bytes fail on every worker.
      throw TaskError(describe(error, context), retryable: false)
    } catch let error as TaskError {
      throw error
    } catch {
      throw TaskError(describe(error, context))
    }
    // Outputs are memory-mapped: a long clip's crops never sit in this process's heap.
    var outputs: [String: Data] = [:]
    for (name, url) in result.outputs { outputs[name] = try Data(contentsOf: url, options: .alwaysMapped) }
    return TaskProduct(outputs: outputs, metrics: result.metrics, followUpTasks: result.followUps.map(farmSpec))
  }

  /// An error's text with the worker's cached input files named by their input names ("clip").
  static func describe(_ error: Error, _ context: TaskContext) -> String {
    context.inputFiles.reduce("\(error)") { text, input in text.replacingOccurrences(of: input.value.path, with: input.key) }
  }

  /// The farm's form of an edit task; exports go where the task's parameters say.
  static func farmSpec(_ task: EditTask) -> Redub_V1_TaskSpec {
    var spec = Redub_V1_TaskSpec()
    spec.key = task.key
    spec.stage = task.stage.rawValue
    spec.taskKind = task.kind
    spec.parameters = task.parameters.encoded()
    spec.preferGpu = task.parameters.settings.preferGPU.contains(task.stage.rawValue)
    spec.dependsOn = task.dependsOn
    spec.inputs = task.inputs.map { binding in
      var farm = Redub_V1_InputBinding()
      farm.name = binding.name
      if let job = binding.jobInput { farm.jobInput = job } else {
        farm.task = binding.task ?? ""
        farm.output = binding.output ?? ""
      }
      return farm
    }
    spec.exports = task.exports.compactMapValues { task.parameters.exportPaths[$0] }
    return spec
  }

  /// A whole edit as a farm job: its inputs are files the coordinator reads (inside its data
  /// root), its first task `prepare`, which adds the rest once it has read the clip.
  static func job(name: String, clip: String, audio: String, landmarks: String?, models: ModelFolder,
                  first: EditTask, outputFolder: String) -> Redub_V1_JobSpec {
    var job = Redub_V1_JobSpec()
    job.name = name
    var inputs = [(EditJobPlan.clip, clip), (EditJobPlan.audio, audio)]
    if let landmarks { inputs.append((EditJobPlan.landmarks, landmarks)) }
    for role in EditJobPlan.models(first.parameters) { inputs.append((EditJobPlan.model(role), models.path(role).path)) }
    job.inputs = inputs.map { name, path in
      var input = Redub_V1_JobInput()
      input.name = name
      input.path = URL(fileURLWithPath: path).standardizedFileURL.path
      return input
    }
    job.tasks = [farmSpec(first)]
    job.outputDir = URL(fileURLWithPath: outputFolder).standardizedFileURL.path
    return job
  }
}
