import Foundation
import Logging
import ZeroMQ

/// A connected worker as the coordinator sees it.
struct WorkerSession {
  var id: String
  var name: String
  var routingID: Data
  var publicKey: String
  var capabilities: Redub_V1_Capabilities
  var cached: Set<String>
  var lastHeard: ContinuousClock.Instant
  var lease: Int64?
  var waiting = false
  var draining = false
}

/// A lease the coordinator is watching.
struct LeaseTrack {
  var ref: LeaseRef
  var jobID: String
  var key: String
  var stage: String
  var lastAlive: ContinuousClock.Instant
  var lastProgress: ContinuousClock.Instant
  var progress: Redub_V1_Progress?
}

/// The coordinator's control thread: one ROUTER socket for workers and clients, the job store,
/// leases and liveness. Lives entirely on its thread.
final class ControlLoop {
  let coordinator: Coordinator
  let socket: ZMQSocket
  let endpoint: String
  let store: JobStore
  let policy: FailurePolicy
  let logger: Logger
  let clock = ContinuousClock()
  var workers: [String: WorkerSession] = [:]
  var leases: [Int64: LeaseTrack] = [:]
  var malformed = 0
  var lastHeartbeat: ContinuousClock.Instant
  var lastAllowlistCheck: ContinuousClock.Instant
  var allowlistStamp: Date?
  let bulkPort: UInt32
  /// Submissions whose input files are read into the blob store on threads of their own, so a
  /// large input never holds up heartbeats; finished ones wake the loop through `imports`.
  let imports: ZMQSocket
  let importsEndpoint = "inproc://coordinator-imports-\(UUID().uuidString)"
  let finishedImports = ImportQueue()
  /// Replies held while a batch of state changes is open (nil when none is); sent only once
  /// the batch is committed, so nothing is acknowledged before it is durable.
  var outbox: [Outgoing]?
  /// A job finished inside the open batch; its outputs are exported after the commit.
  var exportPending = false
  /// When `coordinator.liveState` was last published.
  var lastPublished: ContinuousClock.Instant
  /// How often the live state is published for readers (the web monitor).
  static let publishInterval: Duration = .milliseconds(200)

  /// A reply waiting for its batch to commit; `lease` is the offer's lease, lost if the send fails.
  struct Outgoing {
    var routingID: Data
    var frame: Data
    var lease: LeaseTrack?
  }

  init(coordinator: Coordinator) throws {
    self.coordinator = coordinator
    self.store = coordinator.store
    self.policy = coordinator.configuration.policy
    self.logger = coordinator.configuration.logger
    socket = try ZMQSocket(coordinator.context, type: .router)
    try coordinator.secure(socket)
    try socket.set(.routerMandatory, true)
    try socket.setRouterHandover(true)
    try socket.setMaxMessageSize(Wire.maxControlMessage)
    try socket.set(.sendHighWaterMark, 100_000)
    try socket.set(.receiveHighWaterMark, 100_000)
    try socket.bind(coordinator.configuration.controlEndpoint)
    endpoint = try socket.lastEndpoint
    imports = try ZMQSocket(coordinator.context, type: .pull)
    try imports.bind(importsEndpoint)
    lastHeartbeat = clock.now
    lastAllowlistCheck = clock.now
    lastPublished = clock.now - ControlLoop.publishInterval
    bulkPort = UInt32(coordinator.bulkEndpoint.split(separator: ":").last.flatMap { UInt32($0) } ?? 0)
    // After a restart, leases in the database wait one liveness period for their workers.
    for lease in try store.activeLeases() {
      let identity = try store.taskIdentity(lease.taskID)
      leases[lease.taskID] = LeaseTrack(ref: lease, jobID: identity?.jobID ?? "", key: identity?.key ?? "",
                                        stage: identity?.stage ?? "", lastAlive: clock.now, lastProgress: clock.now, progress: nil)
    }
    if !leases.isEmpty { logger.info("resuming with \(leases.count) leases waiting for their workers") }
    exportFinishedJobs()
  }

  var tick: Duration {
    min(coordinator.configuration.heartbeatInterval / 2, .milliseconds(100))
  }

  func run() {
    var poller = ZMQPoller()
    poller.register(socket)
    poller.register(imports)
    while !coordinator.stopping.load(ordering: .relaxed) {
      do {
        let ready = try poller.poll(timeout: tick)
        if ready[1].contains(.readable) {
          while (try? imports.receive(flags: .dontWait)) != nil {}
          finishImports()
        }
        let start = clock.now
        let cpuStart = ControlLoop.threadCPUNanoseconds()
        defer {
          let busy = clock.now - start
          coordinator.busyNanoseconds.add(
            Int(busy.components.seconds) * 1_000_000_000 + Int(busy.components.attoseconds / 1_000_000_000), ordering: .relaxed)
          coordinator.busyCPUNanoseconds.add(ControlLoop.threadCPUNanoseconds() - cpuStart, ordering: .relaxed)
        }
        if ready[0].contains(.readable) { drainMessages() }
        periodic()
        if clock.now - lastPublished >= ControlLoop.publishInterval { publishLiveState() }
      } catch let error where error.code == EINTR {
        continue
      } catch {
        logger.error("control poll failed: \(error)")
        break
      }
    }
  }

  /// Messages per batch: enough to share one commit among all workers' reports of a poll,
  /// few enough that the first reply is not held long.
  static let batchLimit = 256

  /// Handles what arrived in batches: each batch's state changes commit in one transaction
  /// (group commit), then its replies go out.
  private func drainMessages() {
    var handled = 0
    var more = true
    while more && handled < 10_000 {
      var count = 0
      outbox = []
      do {
        try store.batch {
          while count < ControlLoop.batchLimit {
            let frames: [Data]
            let userID: String?
            do {
              (frames, userID) = try socket.receiveMultipartData(flags: .dontWait, property: "User-Id")
            } catch {
              more = false
              return
            }
            count += 1
            handle(frames, userID: userID)
          }
        }
      } catch {
        logger.error("cannot commit the state changes of \(count) messages, so none is acknowledged: \(error)")
        outbox = nil
        exportPending = false
        recoverFromFailedBatch()
        return
      }
      handled += count
      let replies = outbox ?? []
      outbox = nil
      flush(replies)
      if exportPending {
        exportPending = false
        exportFinishedJobs()
      }
    }
  }

  /// Sends a committed batch's replies; an offer that cannot be sent loses its lease.
  private func flush(_ replies: [Outgoing]) {
    for reply in replies where !transmit(reply.routingID, reply.frame) {
      if let track = reply.lease, leases[track.ref.taskID]?.ref == track.ref {
        loseLease(track, .handedBack, "worker \(track.ref.worker) unreachable when offered the task")
      }
    }
  }

  /// After a batch failed to commit nothing in it is stored: leases in memory follow the
  /// database again, and workers whose offer was not stored wait for another.
  private func recoverFromFailedBatch() {
    let stored = (try? store.activeLeases()) ?? []
    let storedRefs = Set(stored)
    for (taskID, track) in leases where !storedRefs.contains(track.ref) { leases[taskID] = nil }
    for (id, session) in workers where session.lease.map({ leases[$0] == nil }) ?? false {
      workers[id]?.lease = nil
      workers[id]?.waiting = !session.draining
    }
    for lease in stored where leases[lease.taskID] == nil {
      let identity = try? store.taskIdentity(lease.taskID)
      leases[lease.taskID] = LeaseTrack(ref: lease, jobID: identity?.jobID ?? "", key: identity?.key ?? "",
                                        stage: identity?.stage ?? "", lastAlive: clock.now, lastProgress: clock.now, progress: nil)
      if workers[lease.worker] != nil {
        workers[lease.worker]?.lease = lease.taskID
        workers[lease.worker]?.waiting = false
      }
    }
    offerToWaiting()
  }

  /// CPU time the calling thread has used.
  static func threadCPUNanoseconds() -> Int {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return time.tv_sec * 1_000_000_000 + time.tv_nsec
  }

  private func noteMalformed(_ from: Data, _ detail: String) {
    malformed += 1
    coordinator.malformed.add(1, ordering: .relaxed)
    if malformed <= 10 || malformed % 1000 == 0 {
      logger.warning("control: malformed message #\(malformed) from \(printable(from)): \(detail)")
    }
  }

  func handle(_ frames: [Data], userID: String?) {
    guard frames.count == 2 else {
      noteMalformed(frames.first ?? Data(), "\(frames.count) frames, expected routing id + envelope")
      return
    }
    let routingID = frames[0]
    let envelope: Redub_V1_Envelope
    do {
      envelope = try Wire.decode(frames[1])
    } catch {
      noteMalformed(routingID, "\(error)")
      return
    }
    // With CURVE, a key revoked since the connection was admitted gets nothing more.
    if let userID, let zap = coordinator.zapHandler, !zap.allowedKeys.contains(userID) {
      refuse(routingID, .revoked, "key \(userID) was revoked")
      send(routingID, .goodbye(.with { $0.reason = "key revoked" }))
      return
    }
    switch envelope.body {
    case .hello(let hello): handleHello(hello, routingID: routingID, publicKey: userID ?? "")
    case .heartbeat(let heartbeat): handleHeartbeat(heartbeat, routingID: routingID)
    case .taskRequest(let request): handleTaskRequest(request, routingID: routingID)
    case .progress(let progress): handleProgress(progress, routingID: routingID)
    case .result(let result): handleResult(result, routingID: routingID)
    case .failure(let failure): handleFailure(failure, routingID: routingID)
    case .drain(let drain): handleDrain(drain, routingID: routingID)
    case .submit, .statusRequest, .listJobs, .resume, .cancel, .workersRequest:
      handleClient(envelope, routingID: routingID)
    default:
      noteMalformed(routingID, "unexpected message \(String(describing: envelope.body).prefix(40)) on the control socket")
    }
  }

  // MARK: Sending

  /// Sends now, or when a batch is open, once it is committed (then it reports success).
  @discardableResult
  func send(_ routingID: Data, _ body: Redub_V1_Envelope.OneOf_Body, requestID: UInt64 = 0, lease: LeaseTrack? = nil) -> Bool {
    let frame = Wire.encode(body, requestID: requestID)
    if outbox != nil {
      outbox!.append(Outgoing(routingID: routingID, frame: frame, lease: lease))
      return true
    }
    return transmit(routingID, frame)
  }

  private func transmit(_ routingID: Data, _ frame: Data) -> Bool {
    do {
      try socket.sendMultipart([routingID, frame], flags: .dontWait)
      return true
    } catch {
      logger.debug("control: cannot send to \(printable(routingID)): \(error)")
      return false
    }
  }

  func refuse(_ routingID: Data, _ reason: Redub_V1_Refusal.Reason, _ detail: String, taskID: UInt64 = 0, epoch: UInt64 = 0) {
    send(routingID, .refusal(.with {
      $0.reason = reason
      $0.detail = detail
      $0.taskID = taskID
      $0.epoch = epoch
    }))
  }

  /// The session of a known worker, refreshing its liveness; tells unknown senders to say hello.
  func session(_ routingID: Data) -> WorkerSession? {
    let id = String(decoding: routingID, as: UTF8.self)
    guard var session = workers[id] else {
      refuse(routingID, .unknownWorker, "unknown worker; send hello")
      return nil
    }
    session.lastHeard = clock.now
    workers[id] = session
    if let taskID = session.lease { leases[taskID]?.lastAlive = clock.now }
    return session
  }

  // MARK: Workers

  func handleHello(_ hello: Redub_V1_Hello, routingID: Data, publicKey: String) {
    let id = String(decoding: routingID, as: UTF8.self)
    guard hello.workerID == id, !id.isEmpty else {
      noteMalformed(routingID, "hello from routing id '\(printable(routingID))' names worker '\(hello.workerID)'")
      return
    }
    if let previous = workers[id], !previous.publicKey.isEmpty, previous.publicKey != publicKey {
      refuse(routingID, .badMessage, "worker id \(id) belongs to another key")
      return
    }
    var session = WorkerSession(
      id: id, name: hello.name.isEmpty ? id : hello.name, routingID: routingID, publicKey: publicKey,
      capabilities: hello.capabilities, cached: Set(hello.cachedBlobs), lastHeard: clock.now,
      lease: nil, waiting: false, draining: hello.draining)
    var welcome = Redub_V1_Welcome()
    welcome.coordinatorID = coordinator.instanceID
    welcome.heartbeatIntervalMs = UInt32(coordinator.configuration.heartbeatInterval / .milliseconds(1))
    welcome.livenessIntervals = UInt32(coordinator.configuration.livenessIntervals)
    welcome.bulkPort = bulkPort
    var held = Set<Int64>()
    for task in hello.held {
      let taskID = Int64(task.taskID)
      let epoch = Int64(task.epoch)
      let state = try? store.taskState(taskID)
      let mine = state.map { $0.epoch == epoch && $0.worker == id } ?? false
      if let state, mine, state.state == .leased {
        welcome.continuingTaskIds.append(task.taskID)
        held.insert(taskID)
        session.lease = taskID
        let identity = try? store.taskIdentity(taskID)
        var track = leases[taskID] ?? LeaseTrack(
          ref: LeaseRef(taskID: taskID, epoch: epoch, worker: id), jobID: identity?.jobID ?? "",
          key: identity?.key ?? "", stage: identity?.stage ?? "",
          lastAlive: clock.now, lastProgress: clock.now, progress: nil)
        track.lastAlive = clock.now
        track.lastProgress = clock.now
        leases[taskID] = track
      } else if let state, mine, state.state == .done {
        // Committed before a crash, unacknowledged: the worker re-sends and gets its ack.
        welcome.continuingTaskIds.append(task.taskID)
      } else {
        welcome.droppedTaskIds.append(task.taskID)
        let what = task.hasResult ? "result" : "running task"
        store.logEvent(task.hasResult ? "stale-result" : "stale-lease", task: taskID, worker: id,
                       "refused held \(what) for epoch \(epoch): the lease is gone (task \(state.map { "\($0.state.rawValue), epoch \($0.epoch)" } ?? "unknown"))")
        logger.warning("refused held \(what) of task \(taskID) epoch \(epoch) from \(id): lease gone")
      }
    }
    // Leases this worker held but no longer mentions are lost (it restarted without them).
    for (taskID, track) in leases where track.ref.worker == id && !held.contains(taskID) {
      loseLease(track, .expired, "worker \(id) reconnected without the task")
    }
    workers[id] = session
    do {
      try store.recordWorker(id: id, name: session.name, publicKey: publicKey, capabilities: hello.capabilities)
    } catch {
      logger.error("cannot record worker \(id): \(error)")
    }
    logger.info("worker \(session.name) (\(id)) joined: \(hello.capabilities.cores) cores, \(hello.cachedBlobs.count) cached blobs, \(hello.held.count) held tasks")
    send(routingID, .welcome(welcome))
  }

  func handleHeartbeat(_ heartbeat: Redub_V1_Heartbeat, routingID: Data) {
    _ = session(routingID)
  }

  func handleTaskRequest(_ request: Redub_V1_TaskRequest, routingID: Data) {
    guard var session = session(routingID) else { return }
    // A worker asking for work holds no task: a lease still on its name is lost.
    if let taskID = session.lease, let track = leases[taskID] {
      loseLease(track, .expired, "worker \(session.id) asked for a new task while holding it")
      session.lease = nil
    }
    session.cached.formUnion(request.cachedBlobs)
    session.cached.subtract(request.evictedBlobs)
    session.waiting = true
    workers[session.id] = session
    offer(to: session.id)
  }

  /// Leases the best task to a waiting worker; true when one was sent.
  @discardableResult
  func offer(to id: String) -> Bool {
    guard var session = workers[id], session.waiting, session.lease == nil, !session.draining else { return false }
    let grant: LeaseGrant?
    do {
      grant = try store.leaseNextTask(worker: id, kinds: Set(session.capabilities.taskKinds), cached: session.cached, policy: policy,
                                      hasGPU: session.capabilities.gpus > 0)
    } catch {
      logger.error("cannot lease a task: \(error)")
      return false
    }
    guard let grant else { return false }
    var offer = Redub_V1_TaskOffer()
    offer.taskID = UInt64(grant.taskID)
    offer.epoch = UInt64(grant.epoch)
    offer.jobID = grant.jobID
    offer.stage = grant.stage
    offer.taskKind = grant.kind
    offer.taskKey = grant.key
    offer.parameters = grant.parameters
    if let timeout = coordinator.configuration.progressTimeout { offer.progressTimeoutMs = UInt32(timeout / .milliseconds(1)) }
    for input in grant.inputs {
      var ref = Redub_V1_BlobRef()
      ref.name = input.name
      ref.sha256 = input.sha256
      ref.size = input.size
      if input.size <= UInt64(Wire.inlineLimit) && !session.cached.contains(input.sha256) {
        ref.inlineData = (try? coordinator.artifacts.data(for: input.sha256)) ?? Data()
        coordinator.metrics.bytesToWorkers.increment(by: Int64(ref.inlineData.count))
      }
      offer.inputs.append(ref)
    }
    let track = LeaseTrack(ref: LeaseRef(taskID: grant.taskID, epoch: grant.epoch, worker: id), jobID: grant.jobID,
                           key: grant.key, stage: grant.stage, lastAlive: clock.now, lastProgress: clock.now, progress: nil)
    leases[grant.taskID] = track
    session.lease = grant.taskID
    session.waiting = false
    workers[id] = session
    if !send(session.routingID, .offer(offer), lease: track) {
      loseLease(track, .handedBack, "worker \(id) unreachable when offered the task")
    }
    return true
  }

  /// Offers work to every waiting worker (after tasks became ready).
  func offerToWaiting() {
    for id in workers.keys.sorted() where workers[id]?.waiting == true {
      offer(to: id)
    }
  }

  /// The lease a worker's report refers to, if it is the current one.
  private func currentLease(_ taskID: UInt64, _ epoch: UInt64, worker: String) -> LeaseTrack? {
    guard let track = leases[Int64(taskID)], track.ref.epoch == Int64(epoch), track.ref.worker == worker else { return nil }
    return track
  }

  func handleProgress(_ progress: Redub_V1_Progress, routingID: Data) {
    guard let session = session(routingID) else { return }
    guard var track = currentLease(progress.taskID, progress.epoch, worker: session.id) else {
      store.logEvent("stale-progress", task: Int64(progress.taskID), worker: session.id,
                     "refused progress for epoch \(progress.epoch): not the current lease")
      logger.warning("refused stale progress from \(session.id) for task \(progress.taskID) epoch \(progress.epoch)")
      refuse(routingID, .staleEpoch, "lease is no longer current", taskID: progress.taskID, epoch: progress.epoch)
      return
    }
    // The latest thumbnail stays until a newer one comes (most reports carry none).
    var progress = progress
    if progress.thumbnail.png.count > Wire.thumbnailLimit { progress.clearThumbnail() }
    if !progress.hasThumbnail, let previous = track.progress, previous.hasThumbnail { progress.thumbnail = previous.thumbnail }
    track.progress = progress
    track.lastProgress = clock.now
    leases[track.ref.taskID] = track
  }

  /// The reporting worker: its session, or (when the session lapsed) just its id, because a
  /// report is judged by its lease, not by the session.
  func reporter(_ routingID: Data) -> (id: String, known: Bool) {
    let id = String(decoding: routingID, as: UTF8.self)
    if workers[id] != nil { _ = session(routingID); return (id, true) }
    return (id, false)
  }

  func handleResult(_ result: Redub_V1_TaskResult, routingID: Data) {
    let session = reporter(routingID)
    defer { if !session.known { refuse(routingID, .unknownWorker, "unknown worker; send hello") } }
    var outputs: [StoredInput] = []
    var smallBlobs: [String: Data] = [:]
    for output in result.outputs {
      if !output.inlineData.isEmpty || output.size == 0 {
        // Kept in the database with the result, not as a file (see `ArtifactStore`).
        let hash = BlobHasher.hex(of: output.inlineData)
        guard hash == output.sha256, UInt64(output.inlineData.count) == output.size else {
          refuse(routingID, .badMessage, "inline output \(output.name) (\(output.inlineData.count) bytes) hashes to \(hash), not \(output.sha256) (\(output.size) bytes)",
                 taskID: result.taskID, epoch: result.epoch)
          return
        }
        smallBlobs[hash] = output.inlineData
      } else if coordinator.artifacts.size(of: output.sha256) != output.size {
        refuse(routingID, .missingBlob, "output \(output.name) (\(output.sha256)) was not uploaded",
               taskID: result.taskID, epoch: result.epoch)
        return
      }
      outputs.append(StoredInput(name: output.name, sha256: output.sha256, size: output.size))
    }
    let outcome: ResultOutcome
    do {
      outcome = try store.complete(
        taskID: Int64(result.taskID), epoch: Int64(result.epoch), worker: session.id, outputs: outputs,
        smallBlobs: smallBlobs, metrics: result.metrics.map { ($0.name, $0.value) }, seconds: result.seconds,
        followUps: result.followUpTasks)
    } catch {
      logger.error("cannot commit the result of task \(result.taskID): \(error)")
      return
    }
    switch outcome {
    case .accepted(let finishedJob):
      coordinator.metrics.recordTaskSeconds(result.seconds, stage: leases[Int64(result.taskID)]?.stage ?? "")
      coordinator.metrics.bytesFromWorkers.increment(by: Int64(smallBlobs.values.reduce(0) { $0 + $1.count }))
      releaseLease(Int64(result.taskID), worker: session.id)
      send(routingID, .ack(.with { $0.taskID = result.taskID; $0.epoch = result.epoch }))
      if let finishedJob {
        logger.info("job \(finishedJob) done")
        // Outputs leave only once the job's completion is committed.
        if outbox != nil { exportPending = true } else { exportFinishedJobs() }
      }
      offerToWaiting()
    case .duplicate:
      send(routingID, .ack(.with { $0.taskID = result.taskID; $0.epoch = result.epoch }))
    case .rejected(let jobID, let error, let cancelled):
      releaseLease(Int64(result.taskID), worker: session.id)
      logger.error("job \(jobID) failed: \(error)")
      send(routingID, .ack(.with { $0.taskID = result.taskID; $0.epoch = result.epoch }))
      cancelOnWorkers(cancelled, reason: "job \(jobID) failed")
    case .stale(let reason):
      logger.warning("refused a stale result from \(session.id) for task \(result.taskID) epoch \(result.epoch): \(reason)")
      if workers[session.id]?.lease == Int64(result.taskID) { workers[session.id]?.lease = nil }
      refuse(routingID, .staleEpoch, reason, taskID: result.taskID, epoch: result.epoch)
    }
  }

  func handleFailure(_ failure: Redub_V1_TaskFailure, routingID: Data) {
    let session = reporter(routingID)
    defer { if !session.known { refuse(routingID, .unknownWorker, "unknown worker; send hello") } }
    let outcome: FailureOutcome
    do {
      outcome = try store.fail(taskID: Int64(failure.taskID), epoch: Int64(failure.epoch), worker: session.id,
                               error: failure.error, retryable: failure.retryable, policy: policy)
    } catch {
      logger.error("cannot record the failure of task \(failure.taskID): \(error)")
      return
    }
    switch outcome {
    case .requeued(let blocklisted):
      coordinator.metrics.recordRetry("failed")
      releaseLease(Int64(failure.taskID), worker: session.id)
      logger.warning("task \(failure.taskID) failed on \(session.id) (requeued): \(failure.error)")
      if blocklisted { logger.warning("worker \(session.id) blocklisted for the task's job") }
      send(routingID, .ack(.with { $0.taskID = failure.taskID; $0.epoch = failure.epoch }))
      offerToWaiting()
    case .jobFailed(let jobID, let cancelled, _):
      releaseLease(Int64(failure.taskID), worker: session.id)
      logger.error("job \(jobID) failed: task \(failure.taskID) on \(session.id): \(failure.error)")
      send(routingID, .ack(.with { $0.taskID = failure.taskID; $0.epoch = failure.epoch }))
      cancelOnWorkers(cancelled, reason: "job \(jobID) failed")
    case .stale(let reason):
      if workers[session.id]?.lease == Int64(failure.taskID) { workers[session.id]?.lease = nil }
      refuse(routingID, .staleEpoch, reason, taskID: failure.taskID, epoch: failure.epoch)
    }
  }

  func handleDrain(_ drain: Redub_V1_Drain, routingID: Data) {
    guard var session = session(routingID) else { return }
    // A task handed back by a busy worker without leaving does not make it drain.
    if drain.exiting || drain.handedBackTaskID == 0 {
      session.draining = true
      session.waiting = false
    }
    workers[session.id] = session
    if drain.handedBackTaskID != 0, let track = currentLease(drain.handedBackTaskID, drain.handedBackEpoch, worker: session.id) {
      loseLease(track, .handedBack, "worker \(session.id) drained")
    }
    if session.draining { logger.info("worker \(session.id) draining\(drain.exiting ? " and exiting" : "")") }
    if drain.exiting { workers[session.id] = nil }
    send(routingID, .ack(.with { $0.taskID = drain.handedBackTaskID; $0.epoch = drain.handedBackEpoch }))
  }

  func releaseLease(_ taskID: Int64, worker: String) {
    leases[taskID] = nil
    if workers[worker]?.lease == taskID { workers[worker]?.lease = nil }
  }

  /// Ends a lease without a result and requeues (or, past the limit, fails) its task.
  func loseLease(_ track: LeaseTrack, _ loss: LeaseLoss, _ detail: String) {
    releaseLease(track.ref.taskID, worker: track.ref.worker)
    do {
      let outcome = try store.endLease(taskID: track.ref.taskID, epoch: track.ref.epoch, worker: track.ref.worker,
                                        loss: loss, detail: detail, policy: policy)
      logger.warning("lease on task \(track.ref.taskID) epoch \(track.ref.epoch) ended (\(loss.rawValue)): \(detail)")
      if case .requeued = outcome { coordinator.metrics.recordRetry(loss.rawValue) }
      if case .jobFailed(let jobID, let cancelled, _) = outcome {
        cancelOnWorkers(cancelled, reason: "job \(jobID) failed")
      }
    } catch {
      logger.error("cannot end lease on task \(track.ref.taskID): \(error)")
    }
    offerToWaiting()
  }

  func cancelOnWorkers(_ cancelled: [LeaseRef], reason: String) {
    for lease in cancelled {
      releaseLease(lease.taskID, worker: lease.worker)
      if let session = workers[lease.worker] {
        send(session.routingID, .cancelTask(.with {
          $0.taskID = UInt64(lease.taskID)
          $0.epoch = UInt64(lease.epoch)
          $0.reason = reason
        }))
      }
    }
  }

  // MARK: Periodic work

  func periodic() {
    let now = clock.now
    let configuration = coordinator.configuration
    if now - lastHeartbeat >= configuration.heartbeatInterval {
      lastHeartbeat = now
      let heartbeat = Redub_V1_Envelope.OneOf_Body.heartbeat(.with { $0.sentMs = Wire.nowMilliseconds() })
      for session in workers.values { send(session.routingID, heartbeat) }
    }
    for (id, session) in workers where now - session.lastHeard > configuration.liveness {
      logger.warning("worker \(session.name) (\(id)) silent for \(now - session.lastHeard); dropped")
      store.logEvent("worker-lost", worker: id, "silent for \(now - session.lastHeard)")
      workers[id] = nil
    }
    for track in leases.values {
      if now - track.lastAlive > configuration.liveness {
        loseLease(track, .expired, "worker \(track.ref.worker) silent for \(now - track.lastAlive)")
      } else if let timeout = configuration.progressTimeout, now - track.lastProgress > timeout {
        if let session = workers[track.ref.worker] {
          send(session.routingID, .cancelTask(.with {
            $0.taskID = UInt64(track.ref.taskID)
            $0.epoch = UInt64(track.ref.epoch)
            $0.reason = "no progress for \(timeout)"
          }))
        }
        loseLease(track, .expired, "no progress for \(now - track.lastProgress)")
      }
    }
    if now - lastAllowlistCheck >= .milliseconds(250) {
      lastAllowlistCheck = now
      reloadAllowlist()
    }
  }

  /// Re-reads the allowlist when its file changed, and drops workers whose key left it.
  func reloadAllowlist() {
    guard let keys = coordinator.serverKeys, let zap = coordinator.zapHandler else { return }
    let stamp = (try? FileManager.default.attributesOfItem(atPath: keys.allowlist.path))?[.modificationDate] as? Date
    let size = (try? FileManager.default.attributesOfItem(atPath: keys.allowlist.path))?[.size] as? NSNumber
    let current = FarmKeys.readAllowlist(keys.allowlist)
    guard stamp != allowlistStamp || current != zap.allowedKeys else { return }
    _ = size
    allowlistStamp = stamp
    zap.setAllowedKeys(current)
    logger.info("allowlist reloaded: \(current.count) keys")
    for (id, session) in workers where !session.publicKey.isEmpty && !current.contains(session.publicKey) {
      logger.warning("worker \(session.name) (\(id)) key revoked; dropping it")
      store.logEvent("worker-revoked", worker: id, "key \(session.publicKey) revoked")
      send(session.routingID, .goodbye(.with { $0.reason = "key revoked" }))
      if let taskID = session.lease, let track = leases[taskID] {
        loseLease(track, .handedBack, "worker \(id) revoked")
      }
      workers[id] = nil
    }
  }

  /// Writes each finished job's outputs to its output folder (once): the declared exports
  /// when any task of the job declares some, each to its path; otherwise every task's outputs
  /// as `<task key>/<output name>`.
  func exportFinishedJobs() {
    guard let pending = try? store.jobsToExport() else { return }
    for (jobID, outputDir) in pending {
      do {
        let folder = try coordinator.resolveInDataRoot(outputDir)
        let declared = try store.exports(jobID: jobID)
        if declared.isEmpty {
          for output in try store.outputs(jobID: jobID) {
            let taskFolder = folder.appendingPathComponent(ControlLoop.safeName(output.taskKey))
            try FileManager.default.createDirectory(at: taskFolder, withIntermediateDirectories: true)
            let target = taskFolder.appendingPathComponent(ControlLoop.safeName(output.name))
            try coordinator.artifacts.export(output.sha256, to: target)
          }
        } else {
          var written = 0
          for export in declared {
            guard export.sha256 != nil else {
              let message = "task '\(export.taskKey)' did not produce output '\(export.output)', declared as export \(export.path)"
              logger.error("job \(jobID): \(message)")
              store.logEvent("export-failed", job: jobID, message)
              continue
            }
            do {
              try writeExport(export, in: folder)
              written += 1
            } catch {
              logger.error("job \(jobID): cannot export output '\(export.output)' of task '\(export.taskKey)' to \(export.path): \(error)")
              store.logEvent("export-failed", job: jobID, "task '\(export.taskKey)' output '\(export.output)' to \(export.path): \(error)")
            }
          }
          logger.info("job \(jobID): \(written) of \(declared.count) exports written to \(folder.path)")
        }
        try store.markExported(jobID: jobID)
        logger.info("job \(jobID): outputs written to \(folder.path)")
        if let hook = coordinator.configuration.jobFinished {
          let coordinator = self.coordinator
          DispatchQueue.global(qos: .utility).async { hook(coordinator, jobID) }
        }
      } catch {
        logger.error("job \(jobID): cannot write outputs to \(outputDir): \(error)")
        store.logEvent("export-failed", job: jobID, "\(error)")
        try? store.markExported(jobID: jobID)
      }
    }
  }

  /// Writes one declared export: into a temporary file beside its target, then renamed over
  /// it, so a reader never sees half a file.
  func writeExport(_ export: JobExport, in folder: URL) throws(FarmError) {
    guard let sha256 = export.sha256 else {
      throw FarmError.io("task '\(export.taskKey)' did not produce output '\(export.output)'")
    }
    // Checked at submission; checked again because a file outside the folder must never be written.
    if let problem = JobTaskRules.exportPathProblem(export.path) { throw FarmError.io("export path '\(export.path)' is \(problem)") }
    let target = folder.appendingPathComponent(export.path)
    let parent = target.deletingLastPathComponent()
    do {
      try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
    } catch {
      throw FarmError.io("cannot create \(parent.path): \(error.localizedDescription)")
    }
    let temporary = parent.appendingPathComponent(".\(target.lastPathComponent).partial-\(UUID().uuidString.prefix(8))")
    do {
      try coordinator.artifacts.export(sha256, to: temporary)
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      throw error
    }
    guard rename(temporary.path, target.path) == 0 else {
      let reason = String(cString: strerror(errno))
      try? FileManager.default.removeItem(at: temporary)
      throw FarmError.io("cannot rename \(temporary.path) to \(target.path): \(reason)")
    }
  }

  /// A file name from a task key or output name: no folders, no dot-dot.
  static func safeName(_ name: String) -> String {
    let cleaned = String(name.map { $0 == "/" || $0 == "\\" || $0 == "\0" ? "_" : $0 })
    return cleaned == "." || cleaned == ".." || cleaned.isEmpty ? "_" + cleaned : cleaned
  }
}

/// Routing ids and other bytes as printable text for logs.
func printable(_ data: Data) -> String {
  let text = String(decoding: data.prefix(64), as: UTF8.self)
  return text.allSatisfy({ $0.isASCII && !$0.isNewline && ($0.asciiValue ?? 0) >= 32 })
    ? text : data.prefix(16).map { String(format: "%02x", $0) }.joined()
}
