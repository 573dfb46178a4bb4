import CoreMetrics
import Foundation
import Logging
import Synchronization
import ZeroMQ

/// How a coordinator runs.
public struct CoordinatorConfiguration: Sendable {
  /// Holds `farm.sqlite` (jobs, tasks, leases, workers, events) and `blobs/`.
  public var stateDirectory: URL
  /// The control socket (workers and clients); port 0 or '*' picks a free port.
  public var controlEndpoint: String = "tcp://127.0.0.1:5555"
  /// The bulk socket (blob bytes).
  public var bulkEndpoint: String = "tcp://127.0.0.1:5556"
  /// A key folder from `redub keys generate --role coordinator`: CURVE on both sockets and an
  /// allowlist. Without one the coordinator binds to loopback only.
  public var keysDirectory: URL?
  /// Job input and output paths must lie inside this folder.
  public var dataRoot: URL
  /// Heartbeats both ways this often.
  public var heartbeatInterval: Duration = .seconds(5)
  /// A peer silent for this many intervals is dead.
  public var livenessIntervals: Int = 4
  /// A lease also lapses when its task reports no progress for this long (nil: never).
  public var progressTimeout: Duration?
  public var policy = FailurePolicy()
  public var logger = Logger(label: "redub.coordinator")
  /// Called with the coordinator and a job's id once the job's outputs are written (on a
  /// background queue, so a slow handler — the edit report decodes video — never holds up
  /// the control loop).
  public var jobFinished: (@Sendable (Coordinator, String) -> Void)?
  /// Where the coordinator records its metrics (task seconds, retries, bytes moved); nil
  /// records nothing. `redub coordinator --http` passes a Prometheus registry's factory.
  public var metricsFactory: (any MetricsFactory)?

  public init(stateDirectory: URL, dataRoot: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)) {
    self.stateDirectory = stateDirectory
    self.dataRoot = dataRoot
  }

  var liveness: Duration { heartbeatInterval * livenessIntervals }
}

/// The farm's head: owns jobs, hands tasks to workers, stores results. `start()` binds its
/// sockets and serves on its own threads until `stop()`.
public final class Coordinator: Sendable {
  public let configuration: CoordinatorConfiguration
  public let store: JobStore
  public let blobs: BlobStore
  /// Every artifact by hash: `blobs` and the small ones kept in `store`.
  public let artifacts: ArtifactStore
  /// Changes on every start; workers see a restart by it.
  public let instanceID = UUID().uuidString
  let context: ZMQContext
  let stopping = Atomic<Bool>(false)
  let busyNanoseconds = Atomic<Int>(0)
  let busyCPUNanoseconds = Atomic<Int>(0)
  let malformed = Atomic<Int>(0)
  private let bound = Mutex<(control: String?, bulk: String?, error: String?)>((nil, nil, nil))
  private let running = Atomic<Int>(0)
  private let zap = Mutex<ZAPHandler?>(nil)
  let serverKeys: FarmKeys.Server?
  let metrics: CoordinatorMetrics
  private let live = Mutex(CoordinatorLiveState())

  /// The control thread's latest published view of workers and running tasks' progress
  /// (a few times a second). Never waits for the control loop.
  public var liveState: CoordinatorLiveState { live.withLock { $0 } }

  func publish(_ state: CoordinatorLiveState) {
    live.withLock { $0 = state }
  }

  /// Opens the state directory (creating it) and loads the keys; binds nothing yet.
  public init(configuration: CoordinatorConfiguration) throws(FarmError) {
    var configuration = configuration
    self.serverKeys = try configuration.keysDirectory.map { (folder: URL) throws(FarmError) in try FarmKeys.loadServer(folder) }
    if serverKeys == nil {
      let control = Coordinator.loopbackOnly(configuration.controlEndpoint)
      let bulk = Coordinator.loopbackOnly(configuration.bulkEndpoint)
      if control != configuration.controlEndpoint || bulk != configuration.bulkEndpoint {
        configuration.logger.warning(
          "no --keys: binding to loopback only (\(control), \(bulk)); create keys with `redub keys generate` to serve other hosts")
      }
      configuration.controlEndpoint = control
      configuration.bulkEndpoint = bulk
    }
    self.configuration = configuration
    metrics = CoordinatorMetrics(factory: configuration.metricsFactory ?? NOOPMetricsHandler.instance)
    do {
      try FileManager.default.createDirectory(at: configuration.stateDirectory, withIntermediateDirectories: true)
    } catch {
      throw FarmError.io("cannot create \(configuration.stateDirectory.path): \(error.localizedDescription)")
    }
    store = try JobStore(path: configuration.stateDirectory.appendingPathComponent("farm.sqlite"))
    blobs = try BlobStore(root: configuration.stateDirectory.appendingPathComponent("blobs"))
    artifacts = ArtifactStore(blobs: blobs, store: store)
    do { context = try ZMQContext(ioThreads: 2) } catch { throw FarmError.configuration("\(error)") }
  }

  /// A tcp endpoint with its host replaced by 127.0.0.1 unless it already is a loopback host
  /// (an IPv4 address in 127.0.0.0/8, `localhost` or `[::1]`): `tcp://*:5555`,
  /// `tcp://0.0.0.0:5555`, `tcp://eth0:5555` and `tcp://[::]:5555` all become
  /// `tcp://127.0.0.1:5555`. Other transports (ipc, inproc) never leave the host and stay.
  static func loopbackOnly(_ endpoint: String) -> String {
    guard endpoint.hasPrefix("tcp://") else { return endpoint }
    let rest = endpoint.dropFirst(6)
    guard let colon = rest.lastIndex(of: ":") else { return endpoint }
    let host = String(rest[..<colon])
    if host == "localhost" || host == "[::1]" { return endpoint }
    var address = in_addr()
    if inet_pton(AF_INET, host, &address) == 1 && UInt32(bigEndian: address.s_addr) >> 24 == 127 { return endpoint }
    return "tcp://127.0.0.1" + rest[colon...]
  }

  /// Binds both sockets and starts serving; returns once they are bound.
  public func start() throws(FarmError) {
    if let serverKeys {
      let allowed = FarmKeys.readAllowlist(serverKeys.allowlist)
      let logger = configuration.logger
      do {
        let handler = try ZAPHandler(context: context, domain: Coordinator.zapDomain, allowedKeys: allowed) { line in
          logger.warning("\(line)")
        }
        zap.withLock { $0 = handler }
      } catch {
        throw FarmError.configuration("cannot start the ZAP handler: \(error)")
      }
    }
    running.store(2, ordering: .relaxed)
    let control = Thread { [self] in
      defer { running.subtract(1, ordering: .relaxed) }
      do {
        let loop = try ControlLoop(coordinator: self)
        bound.withLock { $0.control = loop.endpoint }
        loop.run()
      } catch {
        bound.withLock { $0.error = "control socket: \(error)" }
      }
    }
    control.name = "coordinator-control"
    let bulk = Thread { [self] in
      defer { running.subtract(1, ordering: .relaxed) }
      do {
        let server = try BulkServer(coordinator: self)
        bound.withLock { $0.bulk = server.endpoint }
        server.run()
      } catch {
        bound.withLock { $0.error = "bulk socket: \(error)" }
      }
    }
    bulk.name = "coordinator-bulk"
    bulk.start()
    // The control loop tells workers the bulk port, so it starts once the bulk socket is bound.
    while true {
      let state = bound.withLock { $0 }
      if let error = state.error { stop(); throw FarmError.configuration(error) }
      if state.bulk != nil { break }
      usleep(1000)
    }
    control.start()
    while true {
      let state = bound.withLock { $0 }
      if let error = state.error { stop(); throw FarmError.configuration(error) }
      if state.control != nil { break }
      usleep(1000)
    }
    configuration.logger.info("coordinator \(instanceID.prefix(8)) serving control \(controlEndpoint), bulk \(bulkEndpoint)")
  }

  /// The bound control endpoint (wildcard port resolved).
  public var controlEndpoint: String { bound.withLock { $0.control } ?? configuration.controlEndpoint }
  /// The bound bulk endpoint.
  public var bulkEndpoint: String { bound.withLock { $0.bulk } ?? configuration.bulkEndpoint }

  /// Stops serving and waits for the threads to finish.
  public func stop() {
    stopping.store(true, ordering: .relaxed)
    for _ in 0..<500 where running.load(ordering: .relaxed) > 0 { usleep(10_000) }
    zap.withLock { $0?.stop(); $0 = nil }
  }

  /// Blocks until `stop()` is called (by a signal handler, say).
  public func waitUntilStopped() {
    while !stopping.load(ordering: .relaxed) { usleep(50_000) }
    stop()
  }

  /// Seconds the control thread spent handling messages and timers (not waiting): the
  /// coordinator's own cost, for the overhead benchmark.
  public var controlBusySeconds: Double { Double(busyNanoseconds.load(ordering: .relaxed)) * 1e-9 }

  /// The CPU time of those spans: `controlBusySeconds` without the time the thread waited for a
  /// core, which on a loaded machine is most of it.
  public var controlBusyCPUSeconds: Double { Double(busyCPUNanoseconds.load(ordering: .relaxed)) * 1e-9 }

  /// Malformed or unexpected messages received on both sockets (each is logged, rate-limited).
  public var malformedMessages: Int { malformed.load(ordering: .relaxed) }

  /// The ZAP domain both sockets use; the handler refuses every other.
  public static let zapDomain = "redub-farm"

  var zapHandler: ZAPHandler? { zap.withLock { $0 } }

  /// Applies the security settings to a freshly made socket.
  func secure(_ socket: ZMQSocket) throws(ZMQError) {
    if let serverKeys {
      try socket.configureCurveServer(keys: serverKeys.keys, zapDomain: Coordinator.zapDomain)
    }
  }
}
