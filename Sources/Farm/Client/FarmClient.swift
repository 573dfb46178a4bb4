import Foundation
import ZeroMQ

/// The client API of a coordinator: submit, status, list, resume, cancel, workers.
///
/// One DEALER socket on the coordinator's control port; every call waits for its reply up to
/// `timeout`. Use it on one thread.
public final class FarmClient {
  public let address: String
  let socket: ZMQSocket
  let context: ZMQContext
  let timeout: Duration
  private var nextRequest: UInt64 = 1

  /// Connects to the coordinator at `address` ("host", "host:port" or "tcp://host:port").
  public init(coordinator address: String, keysDirectory: URL? = nil, timeout: Duration = .seconds(10)) throws(FarmError) {
    self.address = address
    self.timeout = timeout
    let control: String
    do {
      var configuration = WorkerConfiguration(coordinator: address, cacheDirectory: URL(fileURLWithPath: "/"), registry: TaskRegistry())
      configuration.coordinator = address
      control = try configuration.endpoints().control
    }
    let keys = try keysDirectory.map { (folder: URL) throws(FarmError) in try FarmKeys.loadClient(folder) }
    do {
      context = try ZMQContext()
      socket = try ZMQSocket(context, type: .dealer)
      try socket.set(.routingID, Array("client-\(UUID().uuidString.prefix(12))".utf8))
      try socket.set(.linger, 0)
      try socket.setMaxMessageSize(Wire.maxControlMessage)
      if let keys { try socket.configureCurveClient(serverPublicKey: keys.serverPublicKey, keys: keys.keys) }
      try socket.connect(control)
    } catch {
      throw FarmError.configuration("cannot connect to \(control): \(error)")
    }
  }

  /// Sends a request and waits for the reply with the same request id.
  func call(_ body: Redub_V1_Envelope.OneOf_Body, timeout: Duration? = nil) throws(FarmError) -> Redub_V1_Envelope.OneOf_Body {
    let requestID = nextRequest
    nextRequest += 1
    do {
      try socket.send(Wire.encode(body, requestID: requestID))
    } catch {
      throw FarmError.coordinatorUnreachable(address)
    }
    var deadline = ContinuousClock.now + self.timeout
    var poller = ZMQPoller()
    poller.register(socket)
    while ContinuousClock.now < deadline {
      guard let ready = try? poller.poll(timeout: deadline - ContinuousClock.now), ready[0].contains(.readable),
            let frame = try? socket.receiveData(flags: .dontWait)
      else { continue }
      guard let envelope = try? Wire.decode(frame), envelope.requestID == requestID else { continue }
      if case .clientError(let error) = envelope.body { throw FarmError.coordinator(error.message) }
      if case .refusal(let refusal) = envelope.body { throw FarmError.coordinator(refusal.detail) }
      if case .actionReply(let reply) = envelope.body, reply.state == "importing", let timeout {
        // The coordinator accepted a submission and reads its input files: wait longer.
        deadline = ContinuousClock.now + timeout
        continue
      }
      if let body = envelope.body { return body }
    }
    throw FarmError.coordinatorUnreachable(address)
  }

  /// Submits a job; returns its id. The coordinator answers once it has read the job's input
  /// files into its blob store; once it says it is reading them, this waits up to `importTimeout`.
  public func submit(_ spec: Redub_V1_JobSpec, importTimeout: Duration = .seconds(3600)) throws(FarmError) -> String {
    guard case .submitReply(let reply) = try call(.submit(.with { $0.spec = spec }), timeout: importTimeout) else {
      throw unexpected()
    }
    return reply.jobID
  }

  /// A job's status: stages and running and failed tasks (every task with `allTasks`), or only
  /// its state and counts with `summaryOnly`.
  public func status(_ jobID: String, allTasks: Bool = false, summaryOnly: Bool = false) throws(FarmError) -> Redub_V1_JobStatus {
    guard case .jobStatus(let status) = try call(.statusRequest(.with {
      $0.jobID = jobID; $0.allTasks = allTasks; $0.summaryOnly = summaryOnly
    })) else {
      throw unexpected()
    }
    return status
  }

  public func jobs() throws(FarmError) -> [Redub_V1_JobStatus] {
    guard case .jobList(let list) = try call(.listJobs(Redub_V1_ListJobs())) else { throw unexpected() }
    return list.jobs
  }

  /// Requeues a failed or cancelled job's unfinished tasks.
  public func resume(_ jobID: String) throws(FarmError) -> Redub_V1_JobActionReply {
    guard case .actionReply(let reply) = try call(.resume(.with { $0.jobID = jobID })) else { throw unexpected() }
    return reply
  }

  public func cancel(_ jobID: String) throws(FarmError) -> Redub_V1_JobActionReply {
    guard case .actionReply(let reply) = try call(.cancel(.with { $0.jobID = jobID })) else { throw unexpected() }
    return reply
  }

  public func workers() throws(FarmError) -> [Redub_V1_WorkerInfo] {
    guard case .workerList(let list) = try call(.workersRequest(Redub_V1_WorkersRequest())) else { throw unexpected() }
    return list.workers
  }

  /// Polls until the job is done, failed or cancelled, or `limit` passes (then the last status
  /// returns). With `detailed` each poll fetches stages and tasks for `onStatus`; otherwise only
  /// the cheap summary.
  public func wait(
    _ jobID: String, every interval: Duration = .milliseconds(200), limit: Duration? = nil, detailed: Bool = false,
    onStatus: (Redub_V1_JobStatus) -> Void = { _ in }
  ) throws(FarmError) -> Redub_V1_JobStatus {
    let deadline = limit.map { ContinuousClock.now + $0 }
    while true {
      let status = try self.status(jobID, summaryOnly: !detailed)
      onStatus(status)
      if status.state != JobState.running.rawValue { return status }
      if let deadline, ContinuousClock.now >= deadline { return status }
      let nanoseconds = interval.components.seconds * 1_000_000_000 + interval.components.attoseconds / 1_000_000_000
      usleep(UInt32(max(nanoseconds / 1000, 1000)))
    }
  }

  private func unexpected() -> FarmError { FarmError.wire("the coordinator answered with an unexpected message") }
}
