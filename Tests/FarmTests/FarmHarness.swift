import Farm
import Foundation
import Logging
import Synchronization
import TestSupport
import XCTest

/// A temporary folder removed when the value goes.
final class TemporaryFolder {
  let url: URL
  init(_ name: String = "farm") {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("redub-\(name)-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }
  deinit { try? FileManager.default.removeItem(at: url) }
}

/// Counts executions of tasks by key, across threads.
final class ExecutionCounter: Sendable {
  private let counts = Mutex<[String: Int]>([:])
  func record(_ key: String) { counts.withLock { $0[key, default: 0] += 1 } }
  var snapshot: [String: Int] { counts.withLock { $0 } }
}

/// "test.count": outputs "value" = parameter text doubled ("21" → "42"), counting executions.
struct CountingTask: FarmTask {
  static let kind = "test.count"
  let counter: ExecutionCounter
  let delayMicroseconds: UInt32
  func decodeParameters(_ bytes: Data) throws -> Int {
    guard let value = Int(String(decoding: bytes, as: UTF8.self)) else { throw TaskError("not a number", retryable: false) }
    return value
  }
  func run(_ parameters: Int, context: TaskContext) throws -> TaskProduct {
    if delayMicroseconds > 0 { usleep(delayMicroseconds) }
    counter.record(context.taskKey)
    context.report(TaskProgress(iteration: 1, total: 1))
    return TaskProduct(outputs: ["value": Data(String(parameters * 2).utf8)])
  }
}

/// A coordinator and workers on threads of this process, on loopback with 100 ms heartbeats.
final class FarmHarness {
  let folder = TemporaryFolder()
  let coordinator: Coordinator
  var workers: [Worker] = []
  let workerExits = ExitLog()

  static let quietLogger: Logger = {
    var logger = Logger(label: "farm-test")
    logger.logLevel = ProcessInfo.processInfo.environment["REDUB_TEST_LOG"] == nil ? .critical : .debug
    return logger
  }()

  init(keys: URL? = nil, configure: (inout CoordinatorConfiguration) -> Void = { _ in }) throws {
    var configuration = CoordinatorConfiguration(stateDirectory: folder.url.appendingPathComponent("state"),
                                                 dataRoot: folder.url)
    configuration.controlEndpoint = "tcp://127.0.0.1:*"
    configuration.bulkEndpoint = "tcp://127.0.0.1:*"
    configuration.heartbeatInterval = .milliseconds(100)
    configuration.keysDirectory = keys
    configuration.logger = FarmHarness.quietLogger
    configure(&configuration)
    coordinator = try Coordinator(configuration: configuration)
    try coordinator.start()
  }

  /// Starts a worker thread with `registry`.
  @discardableResult
  func addWorker(_ name: String, registry: TaskRegistry, keys: URL? = nil,
                 configure: (inout WorkerConfiguration) -> Void = { _ in }) throws -> Worker {
    var configuration = WorkerConfiguration(coordinator: coordinator.controlEndpoint,
                                            cacheDirectory: folder.url.appendingPathComponent("cache-\(name)"),
                                            registry: registry)
    configuration.name = name
    configuration.workerID = name
    configuration.heartbeatInterval = .milliseconds(100)
    configuration.reconnectInitial = .milliseconds(100)
    configuration.reconnectMax = .milliseconds(400)
    configuration.keysDirectory = keys
    configuration.logger = FarmHarness.quietLogger
    configure(&configuration)
    let worker = try Worker(configuration: configuration)
    let exits = workerExits
    worker.start { error in exits.record(name, error.map { "\($0)" } ?? "ok") }
    workers.append(worker)
    return worker
  }

  func client(keys: URL? = nil) throws -> FarmClient {
    try FarmClient(coordinator: coordinator.controlEndpoint, keysDirectory: keys, timeout: .seconds(5))
  }

  func shutdown() {
    for worker in workers { worker.stop() }
    coordinator.stop()
    // Give worker threads a moment to close their sockets.
    usleep(150_000)
  }

  deinit { shutdown() }
}

/// A job of `count` independent tasks of `kind` with parameters from `parameters`.
func makeJob(_ name: String, count: Int, kind: String, priority: Int32 = 0, parameters: (Int) -> Data) -> Redub_V1_JobSpec {
  var spec = Redub_V1_JobSpec()
  spec.name = name
  spec.priority = priority
  spec.tasks = (0..<count).map { index in
    var task = Redub_V1_TaskSpec()
    task.key = String(format: "task-%04d", index)
    task.stage = "test"
    task.taskKind = kind
    task.parameters = parameters(index)
    return task
  }
  return spec
}

/// How each worker thread ended ("ok" or its error).
final class ExitLog: Sendable {
  private let exits = Mutex<[String: String]>([:])
  func record(_ name: String, _ outcome: String) { exits.withLock { $0[name] = outcome } }
  subscript(name: String) -> String? { exits.withLock { $0[name] } }
}
