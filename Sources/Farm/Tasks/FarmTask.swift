import Foundation
import Synchronization

/// A kind of task the farm can run: the method's stages register one each; tests and the
/// CLI's diagnostics register small ones.
///
/// A worker decodes the parameters, runs the task on its compute thread with a `TaskContext`
/// (inputs, progress, cancellation), and sends the returned `TaskProduct` back.
public protocol FarmTask: Sendable {
  associatedtype Parameters: Sendable
  /// The kind's name in job specs ("diag.sum", "optimize-window").
  static var kind: String { get }
  /// Decodes the task's parameter bytes; throwing here fails the task without retry.
  func decodeParameters(_ bytes: Data) throws -> Parameters
  /// Computes the task. Throw `TaskError` to choose whether a retry can help (other errors retry).
  func run(_ parameters: Parameters, context: TaskContext) throws -> TaskProduct
}

/// What a task returns: named output blobs, named metrics, and tasks to add to its job.
public struct TaskProduct: Sendable {
  public var outputs: [String: Data]
  public var metrics: [String: Double]
  /// Tasks this task adds to its own job once its result is accepted (for a job whose size is
  /// known only after a first task looked at its input). They obey the rules of a submitted
  /// job's tasks: keys new to the job, each dependency a task of the job (typically this one,
  /// `TaskContext.taskKey`) or an earlier follow-up, inputs bound to job inputs or to outputs
  /// of dependencies, export paths safe and unique. A batch that breaks one fails this task
  /// (not retryable) and the job, and nothing of it is added.
  public var followUpTasks: [Redub_V1_TaskSpec]
  public init(outputs: [String: Data] = [:], metrics: [String: Double] = [:], followUpTasks: [Redub_V1_TaskSpec] = []) {
    self.outputs = outputs
    self.metrics = metrics
    self.followUpTasks = followUpTasks
  }
}

/// A task's own failure.
public struct TaskError: Error, CustomStringConvertible, Sendable {
  public var message: String
  /// False when running again cannot help (the job fails at once).
  public var retryable: Bool
  public init(_ message: String, retryable: Bool = true) {
    self.message = message
    self.retryable = retryable
  }
  public var description: String { message }
}

/// Thrown by `TaskContext.checkCancellation()` once the task was cancelled.
public struct TaskCancelled: Error, CustomStringConvertible, Sendable {
  public init() {}
  public var description: String { "task cancelled" }
}

/// One progress report: iteration of total, loss terms, the expected remaining seconds, and
/// now and then a thumbnail of the task's latest render.
public struct TaskProgress: Sendable, Equatable {
  public var iteration: UInt64
  public var total: UInt64
  public var losses: [String: Double]
  public var etaSeconds: Double?
  public var thumbnail: TaskThumbnail?
  public init(iteration: UInt64, total: UInt64, losses: [String: Double] = [:], etaSeconds: Double? = nil,
              thumbnail: TaskThumbnail? = nil) {
    self.iteration = iteration
    self.total = total
    self.losses = losses
    self.etaSeconds = etaSeconds
    self.thumbnail = thumbnail
  }
}

/// A small PNG of what a running task computes (at most 96 pixels a side, `Wire.thumbnailLimit`
/// bytes), for the web monitor. Tasks attach one to a progress report about once a second; the
/// worker keeps the latest until it is sent.
public struct TaskThumbnail: Sendable, Equatable {
  public var png: Data
  /// What it shows ("edited frame 12").
  public var caption: String
  public init(png: Data, caption: String) {
    self.png = png
    self.caption = caption
  }
}

/// What a running task sees: its inputs, a progress sink and a cancellation flag.
public final class TaskContext: Sendable {
  /// Input blobs by the task's names, as files in the worker's cache.
  public let inputFiles: [String: URL]
  /// The job and the task's key within it.
  public let jobID: String
  public let taskKey: String
  private let cancelled = Atomic<Bool>(false)
  private let progressSink: @Sendable (TaskProgress) -> Void

  public init(jobID: String, taskKey: String, inputFiles: [String: URL],
              progress: @escaping @Sendable (TaskProgress) -> Void = { _ in }) {
    self.jobID = jobID
    self.taskKey = taskKey
    self.inputFiles = inputFiles
    self.progressSink = progress
  }

  /// An input's bytes (memory-mapped).
  public func input(_ name: String) throws -> Data {
    guard let url = inputFiles[name] else {
      throw TaskError("task \(taskKey) has no input '\(name)' (it has: \(inputFiles.keys.sorted().joined(separator: ", ")))", retryable: false)
    }
    return try Data(contentsOf: url, options: .alwaysMapped)
  }

  /// Reports progress; the worker forwards it to the coordinator (the lease stays alive).
  public func report(_ progress: TaskProgress) { progressSink(progress) }

  public var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

  /// Throws `TaskCancelled` once cancelled: call it between iterations.
  public func checkCancellation() throws {
    if isCancelled { throw TaskCancelled() }
  }

  /// Asks the task to stop (it notices at its next `checkCancellation`).
  public func cancel() { cancelled.store(true, ordering: .relaxed) }
}

/// The task kinds a worker runs, by name.
public struct TaskRegistry: Sendable {
  private var runners: [String: @Sendable (Data, TaskContext) throws -> TaskProduct] = [:]

  public init() {}

  /// Adds a task kind given as a function of its parameter bytes (replacing one of the same
  /// name): for families of kinds that share one implementation.
  public mutating func register(kind: String, run: @escaping @Sendable (Data, TaskContext) throws -> TaskProduct) {
    runners[kind] = run
  }

  /// Adds a task kind (replacing one of the same name).
  public mutating func register<Task: FarmTask>(_ task: Task) {
    runners[Task.kind] = { bytes, context in
      let parameters: Task.Parameters
      do {
        parameters = try task.decodeParameters(bytes)
      } catch {
        throw TaskError("bad parameters for \(Task.kind): \(error)", retryable: false)
      }
      return try task.run(parameters, context: context)
    }
  }

  /// The registered kinds.
  public var kinds: Set<String> { Set(runners.keys) }

  /// Runs a task of `kind`.
  public func run(kind: String, parameters: Data, context: TaskContext) throws -> TaskProduct {
    guard let runner = runners[kind] else {
      throw TaskError("this worker has no task kind '\(kind)'", retryable: true)
    }
    return try runner(parameters, context)
  }
}
