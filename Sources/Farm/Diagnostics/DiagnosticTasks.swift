import Foundation

/// Small real task kinds for checking a farm end to end before the method's stages exist:
/// `redub submit --diagnostic` uses them, and so do the farm's tests.
///
/// When the environment variable `REDUB_DIAG_EXECUTION_LOG` names a file, each diagnostic task
/// appends "start JOB KEY" and "done JOB KEY" lines to it, so a test can count executions.
public enum DiagnosticTasks {
  /// A registry with every diagnostic kind.
  public static var registry: TaskRegistry {
    var registry = TaskRegistry()
    registry.register(SumTask())
    registry.register(HashTask())
    registry.register(FailTask())
    registry.register(BlobTask())
    registry.register(FanoutTask())
    return registry
  }

  /// Read once: building the environment dictionary on every task cost more than the task.
  static let executionLog: String? = ProcessInfo.processInfo.environment["REDUB_DIAG_EXECUTION_LOG"].flatMap {
    $0.isEmpty ? nil : $0
  }

  static func record(_ event: String, _ context: TaskContext) {
    guard let path = executionLog else { return }
    let line = "\(event) \(context.jobID) \(context.taskKey)\n"
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    guard fd >= 0 else { return }
    _ = line.withCString { write(fd, $0, strlen($0)) }
    close(fd)
  }

  static func decode<T: Decodable>(_ type: T.Type, _ bytes: Data) throws -> T {
    try JSONDecoder().decode(T.self, from: bytes.isEmpty ? Data("{}".utf8) : bytes)
  }
}

/// "diag.sum": sleeps `steps` × `stepMilliseconds` reporting progress each step, then outputs
/// "sum": `value` plus the byte sum of every input, as decimal text.
public struct SumTask: FarmTask {
  public struct Parameters: Codable, Sendable {
    public var value: Int64 = 0
    public var steps: Int = 1
    public var stepMilliseconds: Int = 0
    public init(value: Int64 = 0, steps: Int = 1, stepMilliseconds: Int = 0) {
      self.value = value
      self.steps = steps
      self.stepMilliseconds = stepMilliseconds
    }
    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      value = try container.decodeIfPresent(Int64.self, forKey: .value) ?? 0
      steps = try container.decodeIfPresent(Int.self, forKey: .steps) ?? 1
      stepMilliseconds = try container.decodeIfPresent(Int.self, forKey: .stepMilliseconds) ?? 0
    }
  }
  public static let kind = "diag.sum"
  public init() {}
  public func decodeParameters(_ bytes: Data) throws -> Parameters { try DiagnosticTasks.decode(Parameters.self, bytes) }
  public func run(_ parameters: Parameters, context: TaskContext) throws -> TaskProduct {
    DiagnosticTasks.record("start", context)
    let steps = max(parameters.steps, 1)
    for step in 0..<steps {
      try context.checkCancellation()
      if parameters.stepMilliseconds > 0 { usleep(UInt32(parameters.stepMilliseconds) * 1000) }
      let remaining = Double((steps - step - 1) * parameters.stepMilliseconds) / 1000
      context.report(TaskProgress(iteration: UInt64(step + 1), total: UInt64(steps),
                                  losses: ["step": Double(step)], etaSeconds: remaining))
    }
    var sum = parameters.value
    for name in context.inputFiles.keys.sorted() {
      let data = try context.input(name)
      if let text = String(data: data, encoding: .utf8), let number = Int64(text) {
        sum &+= number
      } else {
        sum &+= data.reduce(Int64(0)) { $0 &+ Int64($1) }
      }
    }
    try context.checkCancellation()
    DiagnosticTasks.record("done", context)
    return TaskProduct(outputs: ["sum": Data(String(sum).utf8)], metrics: ["sum": Double(sum)])
  }
}

/// "diag.fanout": a job that grows from its first task. Sleeps `steps` × `stepMilliseconds`
/// like diag.sum, outputs "n" = `count` as decimal text, and adds follow-up tasks to its job:
/// `count` diag.sum tasks `fanout-part-00000`… (part i has value i and reads "n", so it sums
/// to i + count), each depending on this task, and one diag.sum task `fanout-gather`
/// depending on every part and reading each part's "sum", which exports its own "sum" as
/// `gathered-sum.txt` (count·(count−1)/2 + count²).
public struct FanoutTask: FarmTask {
  public struct Parameters: Codable, Sendable {
    public var count: Int = 10
    public var steps: Int = 1
    public var stepMilliseconds: Int = 0
    public init(count: Int = 10, steps: Int = 1, stepMilliseconds: Int = 0) {
      self.count = count
      self.steps = steps
      self.stepMilliseconds = stepMilliseconds
    }
    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      count = try container.decodeIfPresent(Int.self, forKey: .count) ?? 10
      steps = try container.decodeIfPresent(Int.self, forKey: .steps) ?? 1
      stepMilliseconds = try container.decodeIfPresent(Int.self, forKey: .stepMilliseconds) ?? 0
    }
  }
  public static let kind = "diag.fanout"
  /// The most parts one fanout adds (its result, follow-ups included, stays well inside the
  /// control socket's 16 MiB message limit).
  public static let maxCount = 10_000
  public static let gatherKey = "fanout-gather"
  public static let gatherExport = "gathered-sum.txt"
  public static func partKey(_ index: Int) -> String { String(format: "fanout-part-%05d", index) }

  public init() {}
  public func decodeParameters(_ bytes: Data) throws -> Parameters { try DiagnosticTasks.decode(Parameters.self, bytes) }
  public func run(_ parameters: Parameters, context: TaskContext) throws -> TaskProduct {
    DiagnosticTasks.record("start", context)
    guard (0...FanoutTask.maxCount).contains(parameters.count) else {
      throw TaskError("diag.fanout count \(parameters.count) is outside 0...\(FanoutTask.maxCount)", retryable: false)
    }
    let steps = max(parameters.steps, 1)
    for step in 0..<steps {
      try context.checkCancellation()
      if parameters.stepMilliseconds > 0 { usleep(UInt32(parameters.stepMilliseconds) * 1000) }
      context.report(TaskProgress(iteration: UInt64(step + 1), total: UInt64(steps)))
    }
    let partParameters = { (index: Int) in
      Data("{\"value\": \(index), \"steps\": \(parameters.steps), \"stepMilliseconds\": \(parameters.stepMilliseconds)}".utf8)
    }
    var followUps: [Redub_V1_TaskSpec] = (0..<parameters.count).map { index in
      var part = Redub_V1_TaskSpec()
      part.key = FanoutTask.partKey(index)
      part.stage = "fanout-part"
      part.taskKind = SumTask.kind
      part.parameters = partParameters(index)
      part.dependsOn = [context.taskKey]
      part.inputs = [.with { $0.name = "n"; $0.task = context.taskKey; $0.output = "n" }]
      return part
    }
    var gather = Redub_V1_TaskSpec()
    gather.key = FanoutTask.gatherKey
    gather.stage = "fanout-gather"
    gather.taskKind = SumTask.kind
    gather.parameters = Data("{\"steps\": \(parameters.steps), \"stepMilliseconds\": \(parameters.stepMilliseconds)}".utf8)
    gather.dependsOn = followUps.map(\.key)
    gather.inputs = followUps.map { part in .with { $0.name = part.key; $0.task = part.key; $0.output = "sum" } }
    gather.exports = ["sum": FanoutTask.gatherExport]
    followUps.append(gather)
    try context.checkCancellation()
    DiagnosticTasks.record("done", context)
    return TaskProduct(outputs: ["n": Data(String(parameters.count).utf8)], metrics: ["count": Double(parameters.count)],
                       followUpTasks: followUps)
  }
}

/// "diag.hash": outputs "sha256", the hex SHA-256 of input "data".
public struct HashTask: FarmTask {
  public static let kind = "diag.hash"
  public init() {}
  public func decodeParameters(_ bytes: Data) throws -> Void { () }
  public func run(_ parameters: Void, context: TaskContext) throws -> TaskProduct {
    DiagnosticTasks.record("start", context)
    let data = try context.input("data")
    var hasher = BlobHasher()
    var offset = 0
    while offset < data.count {
      try context.checkCancellation()
      let end = min(offset + (8 << 20), data.count)
      hasher.update(data[offset..<end])
      offset = end
      context.report(TaskProgress(iteration: UInt64(offset), total: UInt64(data.count)))
    }
    let digest = hasher.finalizeHex()
    DiagnosticTasks.record("done", context)
    return TaskProduct(outputs: ["sha256": Data(digest.utf8)], metrics: ["bytes": Double(data.count)])
  }
}

/// "diag.fail": always fails with `message` (retryable unless `retryable` is false).
public struct FailTask: FarmTask {
  public struct Parameters: Codable, Sendable {
    public var message: String = "diagnostic failure"
    public var retryable: Bool = true
    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      message = try container.decodeIfPresent(String.self, forKey: .message) ?? "diagnostic failure"
      retryable = try container.decodeIfPresent(Bool.self, forKey: .retryable) ?? true
    }
  }
  public static let kind = "diag.fail"
  public init() {}
  public func decodeParameters(_ bytes: Data) throws -> Parameters { try DiagnosticTasks.decode(Parameters.self, bytes) }
  public func run(_ parameters: Parameters, context: TaskContext) throws -> TaskProduct {
    DiagnosticTasks.record("start", context)
    throw TaskError(parameters.message, retryable: parameters.retryable)
  }
}

/// "diag.blob": outputs "blob", `bytes` pseudo-random bytes from `seed` (a large result).
public struct BlobTask: FarmTask {
  public struct Parameters: Codable, Sendable {
    public var bytes: Int = 1 << 20
    public var seed: UInt64 = 1
    public init(from decoder: Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      bytes = try container.decodeIfPresent(Int.self, forKey: .bytes) ?? (1 << 20)
      seed = try container.decodeIfPresent(UInt64.self, forKey: .seed) ?? 1
    }
  }
  public static let kind = "diag.blob"
  public init() {}
  public func decodeParameters(_ bytes: Data) throws -> Parameters { try DiagnosticTasks.decode(Parameters.self, bytes) }
  public func run(_ parameters: Parameters, context: TaskContext) throws -> TaskProduct {
    DiagnosticTasks.record("start", context)
    let data = DiagnosticTasks.pseudoRandomBytes(count: parameters.bytes, seed: parameters.seed)
    DiagnosticTasks.record("done", context)
    return TaskProduct(outputs: ["blob": data])
  }
}

extension DiagnosticTasks {
  /// Deterministic bytes (xorshift64*), for test blobs.
  public static func pseudoRandomBytes(count: Int, seed: UInt64) -> Data {
    var data = Data(count: count)
    var state = seed | 1
    data.withUnsafeMutableBytes { raw in
      let words = count / 8
      let pointer = raw.baseAddress!
      for index in 0..<words {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        pointer.storeBytes(of: state &* 0x2545_F491_4F6C_DD1D, toByteOffset: index * 8, as: UInt64.self)
      }
      for index in (words * 8)..<count { raw[index] = UInt8(truncatingIfNeeded: index &* 31) }
    }
    return data
  }
}
