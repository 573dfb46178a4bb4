import Foundation
import Logging
import Synchronization
import ZeroMQ

/// How a worker runs.
public struct WorkerConfiguration: Sendable {
  /// The coordinator's control address: "host", "host:port" or "tcp://host:port" (port 5555 by default).
  public var coordinator: String
  /// Blob cache, pending results and the worker's id live here.
  public var cacheDirectory: URL
  /// The cache's size bound; least recently used blobs go first.
  public var cacheLimitBytes: UInt64 = 20 << 30
  /// A key folder from `redub keys generate --role client` holding `coordinator.pub`.
  public var keysDirectory: URL?
  /// Shown in `redub workers`; the host name by default.
  public var name: String = ProcessInfo.processInfo.hostName
  /// Stable id (the DEALER routing id); by default made once and kept in the cache folder.
  public var workerID: String?
  /// Compute threads the worker announces and its tasks may use.
  public var threads: Int = ProcessInfo.processInfo.activeProcessorCount
  /// GPUs the worker announces (by default those NVML lists; none without NVML).
  public var gpus: [GPUInventory.Device] = GPUInventory.discover()
  /// The compute backend its tasks run on, as announced ("openblas").
  public var computeBackend = ""
  /// Heartbeat interval until the coordinator's welcome says otherwise.
  public var heartbeatInterval: Duration = .seconds(5)
  public var livenessIntervals: Int = 4
  /// Reconnect back-off: first delay, doubled after each failed attempt up to the maximum.
  public var reconnectInitial: Duration = .seconds(1)
  public var reconnectMax: Duration = .seconds(32)
  /// On drain, how long a running task may take to finish before it is handed back.
  public var drainGrace: Duration = .seconds(30)
  /// Bulk download rate limit in bytes per second (nil: none), to spare a shared link.
  public var downloadRateLimit: Double?
  /// Stop after this many tasks (nil: never); for tests and benchmarks.
  public var maxTasks: Int?
  public var registry: TaskRegistry
  public var logger = Logger(label: "redub.worker")

  public init(coordinator: String, cacheDirectory: URL, registry: TaskRegistry) {
    self.coordinator = coordinator
    self.cacheDirectory = cacheDirectory
    self.registry = registry
  }

  /// The control endpoint and the host the bulk port belongs to.
  func endpoints() throws(FarmError) -> (control: String, host: String) {
    var address = coordinator
    if address.hasPrefix("tcp://") { address.removeFirst(6) }
    guard !address.isEmpty, !address.contains("/") else {
      throw FarmError.configuration("coordinator address '\(coordinator)': use host, host:port or tcp://host:port")
    }
    var host = address
    var port = "5555"
    if let colon = address.lastIndex(of: ":"), !address.hasSuffix("]") {
      host = String(address[..<colon])
      port = String(address[address.index(after: colon)...])
    }
    guard UInt16(port) != nil else { throw FarmError.configuration("coordinator address '\(coordinator)' has a bad port") }
    return ("tcp://\(host):\(port)", host)
  }
}

/// A farm worker: connects to a coordinator, pulls tasks, fetches inputs, computes on a compute
/// thread while its I/O thread keeps heartbeats and progress flowing, and returns results,
/// keeping each on disk until acknowledged. `run()` blocks until it drains or is stopped.
public final class Worker: Sendable {
  public let configuration: WorkerConfiguration
  public let workerID: String
  let context: ZMQContext
  let draining = Atomic<Bool>(false)
  let stopping = Atomic<Bool>(false)
  let completed = Atomic<Int>(0)
  let clientKeys: FarmKeys.Client?

  public init(configuration: WorkerConfiguration) throws(FarmError) {
    self.configuration = configuration
    _ = try configuration.endpoints()
    clientKeys = try configuration.keysDirectory.map { (folder: URL) throws(FarmError) in try FarmKeys.loadClient(folder) }
    do {
      try FileManager.default.createDirectory(at: configuration.cacheDirectory.appendingPathComponent("pending"),
                                              withIntermediateDirectories: true)
    } catch {
      throw FarmError.io("cannot create the cache at \(configuration.cacheDirectory.path): \(error.localizedDescription)")
    }
    if let id = configuration.workerID {
      workerID = id
    } else {
      let file = configuration.cacheDirectory.appendingPathComponent("worker-id")
      if let stored = try? String(contentsOf: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
         !stored.isEmpty {
        workerID = stored
      } else {
        let safe = configuration.name.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
        workerID = "\(safe.prefix(40))-\(UUID().uuidString.prefix(8).lowercased())"
        try? Data((workerID + "\n").utf8).write(to: file)
      }
    }
    guard (1...255).contains(workerID.utf8.count) else {
      throw FarmError.configuration("worker id '\(workerID)' must be 1 to 255 bytes")
    }
    do { context = try ZMQContext() } catch { throw FarmError.configuration("\(error)") }
  }

  /// Serves until drained, stopped, revoked, or `maxTasks` done. Throws when revoked.
  public func run() throws(FarmError) {
    let loop = try WorkerLoop(worker: self)
    try loop.run()
  }

  /// Starts `run()` on a thread of its own; the handler gets its outcome.
  public func start(_ finished: @escaping @Sendable (FarmError?) -> Void = { _ in }) {
    let thread = Thread { [self] in
      do { try run(); finished(nil) } catch { finished(error as? FarmError ?? .configuration("\(error)")) }
    }
    thread.name = "worker-io"
    thread.start()
  }

  /// Stop taking tasks; finish the current one within the drain grace or hand it back; then exit.
  public func drain() { draining.store(true, ordering: .relaxed) }

  /// Exit at once, abandoning any task (its lease expires at the coordinator).
  public func stop() { stopping.store(true, ordering: .relaxed) }

  /// Tasks this worker finished and had acknowledged.
  public var tasksCompleted: Int { completed.load(ordering: .relaxed) }
}
