import Dubbing
import Farm
import Foundation
import Synchronization

/// A coordinator and workers on threads of this process, on loopback without keys: a farm for
/// one machine (benchmarks, and running an edit's tasks in parallel without a cluster).
final class EmbeddedFarm {
  let coordinator: Coordinator
  let workers: [Worker]
  /// Time the workers spent inside task code (everything else is the farm's overhead).
  private let compute = ComputeClock()

  /// `state` holds the job database and blob store; workers cache under `state/cache-N`.
  init(state: URL, dataRoot: URL, workers count: Int, logLevel: String = "error") throws {
    var configuration = CoordinatorConfiguration(stateDirectory: state, dataRoot: dataRoot)
    configuration.controlEndpoint = "tcp://127.0.0.1:*"
    configuration.bulkEndpoint = "tcp://127.0.0.1:*"
    configuration.heartbeatInterval = .milliseconds(500)
    configuration.logger = FarmLog.standardError(label: "coordinator", level: logLevel)
    let coordinator = try Coordinator(configuration: configuration)
    try coordinator.start()
    self.coordinator = coordinator
    var registry = TaskRegistry()
    EditFarmTasks.register(in: &registry)
    let timed = EmbeddedFarm.timing(registry, into: compute)
    let endpoint = coordinator.controlEndpoint
    workers = try (1...count).map { index in
      var worker = WorkerConfiguration(coordinator: endpoint,
                                       cacheDirectory: state.appendingPathComponent("cache-\(index)"), registry: timed)
      worker.name = "embedded-\(index)"
      worker.workerID = "embedded-\(index)"
      worker.heartbeatInterval = .milliseconds(500)
      worker.logger = FarmLog.standardError(label: "worker", level: logLevel)
      return try Worker(configuration: worker)
    }
    for worker in workers { worker.start() }
  }

  /// The kinds of `registry`, each call's duration added to `clock`.
  private static func timing(_ registry: TaskRegistry, into clock: ComputeClock) -> TaskRegistry {
    var timed = TaskRegistry()
    for kind in registry.kinds {
      timed.register(kind: kind) { parameters, context in
        let start = ContinuousClock.now
        defer { clock.add(ContinuousClock.now - start) }
        return try registry.run(kind: kind, parameters: parameters, context: context)
      }
    }
    return timed
  }

  var computeSeconds: Double { compute.seconds }

  func client() throws -> FarmClient { try FarmClient(coordinator: coordinator.controlEndpoint) }

  func stop() {
    for worker in workers { worker.stop() }
    coordinator.stop()
    coordinator.waitUntilStopped()
  }
}

/// Summed durations, from any thread.
private final class ComputeClock: Sendable {
  private let nanoseconds = Atomic<Int64>(0)
  func add(_ d: Duration) {
    nanoseconds.add(d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000, ordering: .relaxed)
  }
  var seconds: Double { Double(nanoseconds.load(ordering: .relaxed)) * 1e-9 }
}
