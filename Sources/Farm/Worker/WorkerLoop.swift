import Foundation
import Logging
import Synchronization
import ZeroMQ

/// What the compute thread hands the I/O thread.
enum ComputeEvent: Sendable {
  case progress(generation: Int, TaskProgress)
  case finished(generation: Int, Result<TaskProduct, TaskError>, seconds: Double)
}

/// The worker's I/O thread: sockets, heartbeats, blob transfers and the task's life cycle.
final class WorkerLoop {
  /// The task at hand.
  struct Current {
    var offer: Redub_V1_TaskOffer
    var generation: Int
    var phase: Phase
    var context: TaskContext?
    var progress: TaskProgress?
    var result: Redub_V1_TaskResult?
    /// The failure reported and not yet acknowledged (sent again after a reconnect).
    var failure: Redub_V1_TaskFailure?
    var drainDeadline: ContinuousClock.Instant?
  }

  enum Phase: Equatable {
    case fetching(Set<String>)
    case running
    case uploading(Set<String>)
    case awaitingAck
  }

  struct Download {
    var hash: String
    var partial: PartialBlob
    var started: ContinuousClock.Instant
    var startOffset: UInt64
    /// Credits held back by the rate limit.
    var owed: UInt32 = 0
  }

  struct Upload {
    var hash: String
    var size: UInt64
    var offset: UInt64
    var credit: UInt32
    var handle: FileHandle
  }

  let worker: Worker
  let configuration: WorkerConfiguration
  let logger: Logger
  let clock = ContinuousClock()
  let cache: WorkerCache
  /// Results not yet acknowledged, on disk.
  let pending: PendingResults
  /// Compute threads wake the I/O thread through it (an eventfd its poll watches).
  let wakeup: Wakeup
  let events = EventQueue()
  let endpoints: (control: String, host: String)

  var control: ZMQSocket?
  var bulk: ZMQSocket?
  var welcomed = false
  var helloSentAt: ContinuousClock.Instant?
  var lastHeard: ContinuousClock.Instant
  var lastSent: ContinuousClock.Instant
  var heartbeatInterval: Duration
  var livenessIntervals: Int
  var backoff: Duration
  var nextConnect: ContinuousClock.Instant
  var requested = false
  var current: Current?
  var generation = 0
  var transferCounter: UInt64 = 0
  var downloads: [UInt64: Download] = [:]
  var uploads: [UInt64: Upload] = [:]
  /// Finished results not yet acknowledged, by task id (kept on disk too).
  var unacknowledged: [UInt64: Redub_V1_TaskResult] = [:]
  var drainAnnounced = false
  var exitDeadline: ContinuousClock.Instant?
  /// Downloads restarted after a gap, for the task at hand.
  var restarts = 0
  var finished = false

  init(worker: Worker) throws(FarmError) {
    self.worker = worker
    configuration = worker.configuration
    logger = configuration.logger
    endpoints = try configuration.endpoints()
    cache = try WorkerCache(root: configuration.cacheDirectory.appendingPathComponent("blobs"),
                            limit: configuration.cacheLimitBytes)
    pending = try PendingResults(folder: configuration.cacheDirectory.appendingPathComponent("pending"))
    heartbeatInterval = configuration.heartbeatInterval
    livenessIntervals = configuration.livenessIntervals
    backoff = configuration.reconnectInitial
    lastHeard = clock.now
    lastSent = clock.now
    nextConnect = clock.now
    wakeup = try Wakeup()
    unacknowledged = pending.loaded
    for result in unacknowledged.values {
      logger.info("holding the unacknowledged result of task \(result.taskID) epoch \(result.epoch)")
    }
  }

  var liveness: Duration { heartbeatInterval * livenessIntervals }

  // MARK: Main loop

  func run() throws(FarmError) {
    var revoked: FarmError?
    while !finished && !worker.stopping.load(ordering: .relaxed) {
      if control == nil {
        if clock.now >= nextConnect { connect() } else { usleep(10_000); continue }
      }
      guard let control else { continue }
      var poller = ZMQPoller()
      poller.register(control)
      poller.register(fileDescriptor: wakeup.fileDescriptor)
      let bulk = self.bulk
      if let bulk { poller.register(bulk) }
      let ready: [ZMQPollEvents]
      do {
        ready = try poller.poll(timeout: min(heartbeatInterval / 2, .milliseconds(50)))
      } catch {
        continue
      }
      if ready[1].contains(.readable) { wakeup.reset() }
      handleComputeEvents()
      // Handle what arrived, but come back to timers within 20 ms so heartbeats keep flowing.
      let budget = clock.now + .milliseconds(20)
      if ready[0].contains(.readable) {
        for _ in 0..<1000 where clock.now < budget {
          guard let frame = try? control.receiveData(flags: .dontWait) else { break }
          if let error = handleControl(frame) { revoked = error; finished = true; break }
        }
      }
      if let bulk, ready.count > 2, ready[2].contains(.readable) {
        for _ in 0..<1000 where clock.now < budget {
          guard let frames = try? bulk.receiveMultipartData(flags: .dontWait) else { break }
          handleBulk(frames)
        }
      }
      periodic()
    }
    current?.context?.cancel()
    disconnect()
    if let revoked { throw revoked }
  }

  // MARK: Connection

  func connect() {
    do {
      let control = try ZMQSocket(worker.context, type: .dealer)
      try control.set(.routingID, Array(worker.workerID.utf8))
      try control.set(.linger, 0)
      try control.setMaxMessageSize(Wire.maxControlMessage)
      if let keys = worker.clientKeys {
        try control.configureCurveClient(serverPublicKey: keys.serverPublicKey, keys: keys.keys)
      }
      try control.connect(endpoints.control)
      self.control = control
      welcomed = false
      requested = false
      lastHeard = clock.now
      sendHello()
    } catch {
      logger.error("cannot connect to \(endpoints.control): \(error)")
      scheduleReconnect()
    }
  }

  func openBulk(port: UInt32) {
    bulk = nil
    do {
      let socket = try ZMQSocket(worker.context, type: .dealer)
      try socket.set(.routingID, Array(worker.workerID.utf8))
      try socket.set(.linger, 0)
      try socket.setMaxMessageSize(Wire.maxBulkMessage)
      if let keys = worker.clientKeys {
        try socket.configureCurveClient(serverPublicKey: keys.serverPublicKey, keys: keys.keys)
      }
      try socket.connect("tcp://\(endpoints.host):\(port)")
      bulk = socket
    } catch {
      logger.error("cannot connect the bulk socket: \(error)")
    }
  }

  func disconnect() {
    control = nil
    bulk = nil
    welcomed = false
    for download in downloads.values { _ = download }
    downloads = [:]
    for upload in uploads.values { try? upload.handle.close() }
    uploads = [:]
  }

  func scheduleReconnect() {
    disconnect()
    nextConnect = clock.now + backoff
    logger.warning("coordinator unreachable; reconnecting in \(backoff)")
    backoff = min(backoff * 2, configuration.reconnectMax)
  }

  func sendHello() {
    var hello = Redub_V1_Hello()
    hello.workerID = worker.workerID
    hello.name = configuration.name
    hello.capabilities = capabilities()
    hello.cachedBlobs = cache.hashes
    cache.added = []
    cache.evicted = []
    hello.draining = worker.draining.load(ordering: .relaxed)
    if let current, current.phase != .awaitingAck || current.result == nil {
      hello.held.append(.with { $0.taskID = current.offer.taskID; $0.epoch = current.offer.epoch })
    }
    for result in unacknowledged.values {
      hello.held.append(.with { $0.taskID = result.taskID; $0.epoch = result.epoch; $0.result = result })
    }
    helloSentAt = clock.now
    sendControl(.hello(hello))
  }

  func capabilities() -> Redub_V1_Capabilities {
    var capabilities = Redub_V1_Capabilities()
    capabilities.cores = UInt32(configuration.threads)
    capabilities.memoryBytes = ProcessInfo.processInfo.physicalMemory
    capabilities.gpus = UInt32(configuration.gpus.count)
    capabilities.gpuDevices = configuration.gpus.map { gpu in
      var device = Redub_V1_GpuDevice()
      device.index = UInt32(gpu.index)
      device.name = gpu.name
      device.memoryBytes = gpu.memoryBytes
      return device
    }
    capabilities.computeBackend = configuration.computeBackend
    let attributes = try? FileManager.default.attributesOfFileSystem(forPath: configuration.cacheDirectory.path)
    capabilities.freeDiskBytes = (attributes?[.systemFreeSize] as? NSNumber)?.uint64Value ?? 0
    capabilities.taskKinds = configuration.registry.kinds.sorted()
    return capabilities
  }

  func sendControl(_ body: Redub_V1_Envelope.OneOf_Body) {
    guard let control else { return }
    do {
      try control.send(Wire.encode(body), flags: .dontWait)
      lastSent = clock.now
    } catch {
      logger.debug("control send failed: \(error)")
    }
  }

  func sendBulk(_ body: Redub_V1_Envelope.OneOf_Body) -> Bool {
    guard let bulk else { return false }
    do {
      try bulk.send(Wire.encode(body), flags: .dontWait)
      return true
    } catch {
      return false
    }
  }

  func sendBulk(frames: [Data]) -> Bool {
    guard let bulk else { return false }
    do {
      try bulk.sendMultipart(frames, flags: .dontWait)
      return true
    } catch {
      return false
    }
  }

  // MARK: Periodic

  func periodic() {
    let now = clock.now
    guard control != nil else { return }
    if now - lastHeard > liveness {
      logger.warning("no word from the coordinator for \(now - lastHeard)")
      scheduleReconnect()
      return
    }
    if welcomed && now - lastSent >= heartbeatInterval {
      sendControl(.heartbeat(.with {
        $0.sentMs = Wire.nowMilliseconds()
        $0.taskID = current?.offer.taskID ?? 0
        $0.epoch = current?.offer.epoch ?? 0
      }))
    }
    if let progress = current?.progress, current?.phase == .running, let offer = current?.offer {
      current?.progress = nil
      sendControl(.progress(.with {
        $0.taskID = offer.taskID
        $0.epoch = offer.epoch
        $0.iteration = progress.iteration
        $0.total = progress.total
        $0.losses = progress.losses.sorted(by: { $0.key < $1.key }).map { entry in .with { $0.name = entry.key; $0.value = entry.value } }
        $0.etaSeconds = progress.etaSeconds ?? -1
        if let thumbnail = progress.thumbnail, thumbnail.png.count <= Wire.thumbnailLimit {
          $0.thumbnail = .with { $0.png = thumbnail.png; $0.caption = thumbnail.caption }
        }
      }))
    }
    for transfer in downloads.keys where downloads[transfer]!.owed > 0 { grantCredits(transfer) }
    // A resumed download hashes the bytes it already had a little at a time.
    for download in downloads.values where download.partial.needsCatchUp {
      try? download.partial.catchUp(for: .milliseconds(10))
    }
    if let exitDeadline {
      if now >= exitDeadline { finished = true }
      return
    }
    if worker.draining.load(ordering: .relaxed) { drainStep() }
    if welcomed { requestTaskIfIdle() }
  }

  func requestTaskIfIdle() {
    guard current == nil, !requested, unacknowledged.isEmpty, !worker.draining.load(ordering: .relaxed) else { return }
    if let maxTasks = configuration.maxTasks, worker.tasksCompleted >= maxTasks {
      finished = true
      return
    }
    requested = true
    sendControl(.taskRequest(.with {
      $0.cachedBlobs = Array(cache.added)
      $0.evictedBlobs = Array(cache.evicted)
    }))
    cache.added = []
    cache.evicted = []
  }

  func drainStep() {
    let now = clock.now
    if var current, current.phase == .running || current.phase != .awaitingAck {
      if current.drainDeadline == nil {
        current.drainDeadline = now + configuration.drainGrace
        self.current = current
        logger.info("draining: task \(current.offer.taskKey) may finish within \(configuration.drainGrace)")
        sendControl(.drain(.with { $0.exiting = false }))
      }
      if now >= current.drainDeadline!, current.phase != .awaitingAck {
        logger.info("draining: handing task \(current.offer.taskKey) back")
        current.context?.cancel()
        sendControl(.drain(.with {
          $0.handedBackTaskID = current.offer.taskID
          $0.handedBackEpoch = current.offer.epoch
          $0.exiting = true
        }))
        self.current = nil
        finishDrain()
      }
      return
    }
    if current == nil && unacknowledged.isEmpty {
      sendControl(.drain(.with { $0.exiting = true }))
      finishDrain()
    } else if !welcomed {
      finishDrain()
    }
  }

  /// Exits once the coordinator acknowledged the final drain message (or after a second).
  func finishDrain() {
    guard exitDeadline == nil else { return }
    if let control { try? control.set(.linger, 1000) }
    exitDeadline = clock.now + .seconds(1)
    if !welcomed { finished = true }
    logger.info("drained; exiting")
  }

  // MARK: Control messages

  /// Handles one control message; returns an error when the worker must exit (revoked).
  func handleControl(_ frame: Data) -> FarmError? {
    let envelope: Redub_V1_Envelope
    do { envelope = try Wire.decode(frame) } catch {
      logger.warning("ignored a bad control message: \(error)")
      return nil
    }
    lastHeard = clock.now
    switch envelope.body {
    case .welcome(let welcome): handleWelcome(welcome)
    case .heartbeat: break
    case .offer(let offer): handleOffer(offer)
    case .ack(let ack): handleAck(ack)
    case .refusal(let refusal): return handleRefusal(refusal)
    case .cancelTask(let cancel):
      if let current, current.offer.taskID == cancel.taskID, current.offer.epoch == cancel.epoch {
        logger.info("task \(current.offer.taskKey) cancelled: \(cancel.reason)")
        current.context?.cancel()
        dropCurrent()
      }
    case .goodbye(let goodbye):
      logger.error("the coordinator dropped this worker: \(goodbye.reason)")
      return FarmError.keys("the coordinator dropped this worker: \(goodbye.reason)")
    default:
      logger.warning("ignored an unexpected control message")
    }
    return nil
  }

  func handleWelcome(_ welcome: Redub_V1_Welcome) {
    welcomed = true
    backoff = configuration.reconnectInitial
    if welcome.heartbeatIntervalMs > 0 { heartbeatInterval = .milliseconds(Int(welcome.heartbeatIntervalMs)) }
    if welcome.livenessIntervals > 0 { livenessIntervals = Int(welcome.livenessIntervals) }
    // Transfers restart on the new bulk socket from what is on disk; chunks still in flight
    // to the old one are lost, and any that reach the new one under an old id are ignored.
    downloads = [:]
    for upload in uploads.values { try? upload.handle.close() }
    uploads = [:]
    openBulk(port: welcome.bulkPort)
    logger.info("connected to coordinator \(welcome.coordinatorID.prefix(8)) as \(worker.workerID)")
    let dropped = Set(welcome.droppedTaskIds)
    for taskID in dropped {
      if unacknowledged.removeValue(forKey: taskID) != nil {
        logger.warning("coordinator refused held result of task \(taskID) (lease gone)")
        removePending(taskID)
      }
      if current?.offer.taskID == taskID {
        logger.warning("coordinator dropped running task \(current!.offer.taskKey)")
        current?.context?.cancel()
        dropCurrent()
      }
    }
    // Re-deliver results the coordinator still wants.
    for taskID in welcome.continuingTaskIds {
      if let result = unacknowledged[taskID] { deliver(result) }
    }
    // A task that was fetching or uploading when the connection broke starts that step again.
    if let current {
      switch current.phase {
      case .fetching: startFetching()
      case .uploading, .awaitingAck:
        if let result = current.result { deliver(result) } else if let failure = current.failure { sendControl(.failure(failure)) }
      case .running: break
      }
    }
    requested = false
  }

  func handleRefusal(_ refusal: Redub_V1_Refusal) -> FarmError? {
    switch refusal.reason {
    case .unknownWorker:
      if let sent = helloSentAt, clock.now - sent < .milliseconds(200) { return nil }
      logger.info("coordinator does not know this worker; saying hello again")
      welcomed = false
      sendHello()
    case .staleEpoch:
      logger.warning("coordinator refused task \(refusal.taskID) epoch \(refusal.epoch): \(refusal.detail)")
      if unacknowledged.removeValue(forKey: refusal.taskID) != nil { removePending(refusal.taskID) }
      if let current, current.offer.taskID == refusal.taskID, current.offer.epoch == refusal.epoch {
        current.context?.cancel()
        dropCurrent()
      }
    case .missingBlob:
      if let result = unacknowledged[refusal.taskID] { upload(result) }
    case .revoked:
      return FarmError.keys("this worker's key was revoked: \(refusal.detail)")
    default:
      logger.warning("coordinator refused a message: \(refusal.detail)")
    }
    return nil
  }

  func handleAck(_ ack: Redub_V1_Ack) {
    if exitDeadline != nil && current == nil && unacknowledged.isEmpty { finished = true }
    if unacknowledged.removeValue(forKey: ack.taskID) != nil {
      removePending(ack.taskID)
      worker.completed.add(1, ordering: .relaxed)
    }
    if let current, current.offer.taskID == ack.taskID, current.offer.epoch == ack.epoch {
      dropCurrent()
    }
    requested = false
  }

  func dropCurrent() {
    if let current { for input in current.offer.inputs { cache.pinned.remove(input.sha256) } }
    current = nil
    requested = false
  }

  // MARK: Tasks

  func handleOffer(_ offer: Redub_V1_TaskOffer) {
    requested = false
    guard current == nil else {
      logger.warning("offer of task \(offer.taskKey) while busy; handing it back")
      sendControl(.drain(.with { $0.handedBackTaskID = offer.taskID; $0.handedBackEpoch = offer.epoch }))
      return
    }
    generation += 1
    restarts = 0
    current = Current(offer: offer, generation: generation, phase: .fetching([]))
    for input in offer.inputs { cache.pinned.insert(input.sha256) }
    startFetching()
  }

  /// Stores inline inputs and starts downloads of missing ones; runs the task when none is missing.
  func startFetching() {
    guard let offer = current?.offer else { return }
    var missing = Set<String>()
    for input in offer.inputs {
      if cache.contains(input.sha256) {
        cache.touch(input.sha256)
        continue
      }
      if !input.inlineData.isEmpty || input.size == 0 {
        do {
          let hash = try cache.put(input.inlineData)
          guard hash == input.sha256 else {
            reportFailure("inline input \(input.name) hashes to \(hash), not \(input.sha256)", retryable: true)
            return
          }
        } catch {
          reportFailure("cannot store input \(input.name): \(error)", retryable: true)
          return
        }
        continue
      }
      missing.insert(input.sha256)
    }
    current?.phase = .fetching(missing)
    if missing.isEmpty { startCompute(); return }
    guard bulk != nil else { return }
    for hash in missing where !downloads.values.contains(where: { $0.hash == hash }) {
      let size = offer.inputs.first { $0.sha256 == hash }!.size
      do {
        let partial = try cache.store.receive(hash, size: size)
        transferCounter += 1
        downloads[transferCounter] = Download(hash: hash, partial: partial, started: clock.now, startOffset: partial.offset)
        if partial.offset > 0 { logger.info("resuming download of \(hash.prefix(12)) from offset \(partial.offset)") }
        if partial.isComplete {
          finishDownload(transferCounter)
        } else {
          _ = sendBulk(.blobGet(.with {
            $0.transferID = transferCounter
            $0.sha256 = hash
            $0.offset = partial.offset
            $0.credit = BulkServer.maxCredit
          }))
        }
      } catch {
        reportFailure("cannot fetch input \(hash.prefix(12)): \(error)", retryable: true)
        return
      }
    }
  }

  func finishDownload(_ transfer: UInt64) {
    guard let download = downloads.removeValue(forKey: transfer) else { return }
    do {
      try download.partial.finish()
      cache.didAdd(download.hash, size: download.partial.size)
    } catch {
      logger.error("download of \(download.hash.prefix(12)) failed: \(error)")
      reportFailure("input \(download.hash.prefix(12)) failed its hash check: \(error)", retryable: true)
      return
    }
    guard case .fetching(var missing) = current?.phase else { return }
    missing.remove(download.hash)
    current?.phase = .fetching(missing)
    if missing.isEmpty { startCompute() }
  }

  func startCompute() {
    guard let offer = current?.offer, let generation = current?.generation else { return }
    var files: [String: URL] = [:]
    for input in offer.inputs {
      if let url = try? cache.store.url(for: input.sha256) { files[input.name] = url }
    }
    let events = self.events
    let wakeup = self.wakeup
    let signal: @Sendable () -> Void = { wakeup.signal() }
    let progressGate = Mutex<ContinuousClock.Instant?>(nil)
    let context = TaskContext(jobID: offer.jobID, taskKey: offer.taskKey, inputFiles: files) { progress in
      events.append(.progress(generation: generation, progress))
      // Wake the I/O thread at most every 20 ms for progress.
      let now = ContinuousClock.now
      let wake = progressGate.withLock { last -> Bool in
        if let last, now - last < .milliseconds(20) { return false }
        last = now
        return true
      }
      if wake { signal() }
    }
    current?.context = context
    current?.phase = .running
    let registry = configuration.registry
    let kind = offer.taskKind
    let parameters = offer.parameters
    let thread = Thread {
      let start = ContinuousClock.now
      let outcome: Result<TaskProduct, TaskError>
      do {
        outcome = .success(try registry.run(kind: kind, parameters: parameters, context: context))
      } catch let error as TaskError {
        outcome = .failure(error)
      } catch is TaskCancelled {
        outcome = .failure(TaskError("cancelled", retryable: true))
      } catch {
        outcome = .failure(TaskError("\(error)", retryable: true))
      }
      let elapsed = ContinuousClock.now - start
      let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
      events.append(.finished(generation: generation, outcome, seconds: seconds))
      signal()
    }
    thread.name = "worker-compute"
    thread.stackSize = 16 << 20
    thread.start()
  }

  func handleComputeEvents() {
    let pending = events.takeAll()
    for event in pending {
      switch event {
      case .progress(let generation, let progress):
        guard current?.generation == generation, current?.phase == .running else { continue }
        // Reports replace each other until one is sent; a thumbnail waits for the next send.
        var progress = progress
        if progress.thumbnail == nil { progress.thumbnail = current?.progress?.thumbnail }
        current?.progress = progress
      case .finished(let generation, let outcome, let seconds):
        guard let current, current.generation == generation, current.phase == .running else { continue }
        if current.context?.isCancelled == true { continue }
        switch outcome {
        case .success(let product): completeTask(product, seconds: seconds)
        case .failure(let error): reportFailure(error.message, retryable: error.retryable)
        }
      }
    }
  }

  func completeTask(_ product: TaskProduct, seconds: Double) {
    guard let offer = current?.offer else { return }
    var result = Redub_V1_TaskResult()
    result.taskID = offer.taskID
    result.epoch = offer.epoch
    result.seconds = seconds
    result.metrics = product.metrics.sorted(by: { $0.key < $1.key }).map { entry in .with { $0.name = entry.key; $0.value = entry.value } }
    result.followUpTasks = product.followUpTasks
    if !result.followUpTasks.isEmpty {
      // Outputs travel inline only up to 64 KiB each, so follow-ups are what can push a result
      // past the control socket's message limit, where it would be dropped unseen: fail instead.
      let size = (try? result.serializedBytes() as [UInt8])?.count ?? Int.max
      let limit = Int(Wire.maxControlMessage) - (1 << 20)
      if size + product.outputs.count * (Wire.inlineLimit + 256) > limit {
        reportFailure(
          "the result's \(result.followUpTasks.count) follow-up tasks take \(size) bytes, over the control message limit of \(limit) bytes; return fewer or smaller follow-ups",
          retryable: false)
        return
      }
    }
    do {
      for (name, data) in product.outputs.sorted(by: { $0.key < $1.key }) {
        var ref = Redub_V1_BlobRef()
        ref.name = name
        ref.size = UInt64(data.count)
        if data.count <= Wire.inlineLimit {
          ref.sha256 = BlobHasher.hex(of: data)
          ref.inlineData = data
        } else {
          ref.sha256 = try cache.put(data)
          cache.pinned.insert(ref.sha256)
        }
        result.outputs.append(ref)
      }
      // Kept on disk until acknowledged, so a restarted worker still delivers it.
      try pending.add(result)
    } catch {
      reportFailure("cannot keep the task's result: \(error)", retryable: true)
      return
    }
    unacknowledged[offer.taskID] = result
    current?.result = result
    deliver(result)
  }

  /// Uploads the result's large outputs, then reports it.
  func deliver(_ result: Redub_V1_TaskResult) {
    let large = Set(result.outputs.filter { $0.inlineData.isEmpty && $0.size > 0 }.map(\.sha256))
    if large.isEmpty {
      if current?.offer.taskID == result.taskID { current?.phase = .awaitingAck }
      sendControl(.result(result))
    } else {
      if current?.offer.taskID == result.taskID { current?.phase = .uploading(large) }
      upload(result)
    }
  }

  func upload(_ result: Redub_V1_TaskResult) {
    for output in result.outputs where output.inlineData.isEmpty && output.size > 0 {
      guard let url = try? cache.store.url(for: output.sha256), let handle = try? FileHandle(forReadingFrom: url) else {
        logger.error("output \(output.name) of task \(result.taskID) is missing from the cache")
        continue
      }
      transferCounter += 1
      uploads[transferCounter] = Upload(hash: output.sha256, size: output.size, offset: 0, credit: 0, handle: handle)
      _ = sendBulk(.blobPutBegin(.with {
        $0.transferID = transferCounter
        $0.sha256 = output.sha256
        $0.size = output.size
      }))
    }
  }

  func reportFailure(_ message: String, retryable: Bool) {
    guard let offer = current?.offer else { return }
    logger.warning("task \(offer.taskKey) failed: \(message)")
    let failure = Redub_V1_TaskFailure.with {
      $0.taskID = offer.taskID
      $0.epoch = offer.epoch
      $0.error = message
      $0.retryable = retryable
    }
    sendControl(.failure(failure))
    current?.failure = failure
    current?.phase = .awaitingAck
  }

  // MARK: Bulk messages

  func handleBulk(_ frames: [Data]) {
    guard let envelope = try? Wire.decodeBulk(frames) else { return }
    lastHeard = clock.now
    switch envelope.body {
    case .blobChunk(let chunk):
      guard let download = downloads[chunk.transferID] else { return }
      // Credit first, so the coordinator sends on while this chunk is written and hashed.
      let final = chunk.last || download.partial.offset + UInt64(chunk.data.count) >= download.partial.size
      if !final {
        downloads[chunk.transferID]?.owed += 1
        grantCredits(chunk.transferID)
      }
      do {
        try download.partial.append(chunk.data, at: chunk.offset)
      } catch {
        // A gap (chunks lost with a replaced socket): ask again from what is on disk.
        downloads[chunk.transferID] = nil
        restarts += 1
        guard restarts <= 5 else {
          reportFailure("download of \(download.hash.prefix(12)) broke: \(error)", retryable: true)
          return
        }
        logger.warning("download of \(download.hash.prefix(12)) broke (\(error)); restarting it")
        startFetching()
        return
      }
      if download.partial.isComplete || chunk.last { finishDownload(chunk.transferID) }
    case .blobPutReady(let ready):
      guard var upload = uploads[ready.transferID] else { return }
      upload.offset = ready.offset
      upload.credit = ready.credit
      uploads[ready.transferID] = upload
      pumpUpload(ready.transferID)
    case .blobCredit(let credit):
      guard uploads[credit.transferID] != nil else { return }
      uploads[credit.transferID]!.credit += credit.credit
      pumpUpload(credit.transferID)
    case .blobPutDone(let done):
      if let upload = uploads.removeValue(forKey: done.transferID) { try? upload.handle.close() }
      uploadFinished(done.sha256)
    case .blobError(let error):
      logger.error("blob transfer \(error.transferID) failed at the coordinator: \(error.detail)")
      if let download = downloads.removeValue(forKey: error.transferID) {
        reportFailure("cannot fetch input \(download.hash.prefix(12)): \(error.detail)", retryable: true)
      }
      if let upload = uploads.removeValue(forKey: error.transferID) {
        try? upload.handle.close()
        // Try once more from the start of what the coordinator has.
        if let result = unacknowledged.values.first(where: { $0.outputs.contains { $0.sha256 == upload.hash } }) {
          self.upload(result)
        }
      }
    default:
      break
    }
  }

  /// Returns held-back credits to the sender, as far as the download rate limit allows.
  func grantCredits(_ transfer: UInt64) {
    guard let download = downloads[transfer], download.owed > 0 else { return }
    if let limit = configuration.downloadRateLimit {
      let elapsed = clock.now - download.started
      let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
      let received = Double(download.partial.offset - download.startOffset)
      if received > limit * seconds { return }
    }
    downloads[transfer]?.owed = 0
    _ = sendBulk(.blobCredit(.with { $0.transferID = transfer; $0.credit = download.owed }))
  }

  func pumpUpload(_ transfer: UInt64) {
    guard var upload = uploads[transfer] else { return }
    do {
      try upload.handle.seek(toOffset: upload.offset)
      while upload.credit > 0 && upload.offset < upload.size {
        let data = try upload.handle.read(upToCount: Wire.chunkSize) ?? Data()
        guard !data.isEmpty else { break }
        let sent = sendBulk(frames: Wire.chunkFrames(.with {
          $0.transferID = transfer
          $0.offset = upload.offset
          $0.data = data
          $0.last = upload.offset + UInt64(data.count) >= upload.size
        }))
        guard sent else { break }
        upload.offset += UInt64(data.count)
        upload.credit -= 1
      }
      uploads[transfer] = upload
    } catch {
      logger.error("cannot read output \(upload.hash.prefix(12)): \(error)")
      uploads[transfer] = nil
    }
  }

  func uploadFinished(_ hash: String) {
    guard case .uploading(var waiting) = current?.phase, let result = current?.result else {
      // A re-delivered result (no current task): report once every output is up.
      for result in unacknowledged.values where result.outputs.contains(where: { $0.sha256 == hash })
        && !uploads.values.contains(where: { upload in result.outputs.contains { $0.sha256 == upload.hash } }) {
        sendControl(.result(result))
      }
      return
    }
    waiting.remove(hash)
    current?.phase = waiting.isEmpty ? .awaitingAck : .uploading(waiting)
    if waiting.isEmpty { sendControl(.result(result)) }
  }

  // MARK: Pending results on disk

  func removePending(_ taskID: UInt64) {
    pending.remove(taskID)
  }
}

/// Events from compute threads to the I/O thread.
final class EventQueue: Sendable {
  private let queue = Mutex<[ComputeEvent]>([])
  func append(_ event: ComputeEvent) { queue.withLock { $0.append(event) } }
  func takeAll() -> [ComputeEvent] {
    queue.withLock { queue in
      defer { queue.removeAll() }
      return queue
    }
  }
}

/// Wakes the I/O thread from any thread: a non-blocking pipe whose read end its `zmq_poll`
/// watches beside the sockets. Cheaper than a ZeroMQ socket per signal (a socket, a connect
/// and a close each).
final class Wakeup: Sendable {
  /// The end to poll.
  let fileDescriptor: Int32
  private let writeEnd: Int32

  init() throws(FarmError) {
    var ends: [Int32] = [0, 0]
    guard pipe(&ends) == 0 else {
      throw FarmError.configuration("cannot create a pipe: \(String(cString: strerror(errno)))")
    }
    for end in ends {
      _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
      _ = fcntl(end, F_SETFD, FD_CLOEXEC)
    }
    fileDescriptor = ends[0]
    writeEnd = ends[1]
  }

  deinit {
    close(fileDescriptor)
    close(writeEnd)
  }

  /// Makes the read end readable until `reset` (a full pipe is readable already).
  func signal() {
    var byte: UInt8 = 1
    _ = write(writeEnd, &byte, 1)
  }

  /// Consumes every signal so far.
  func reset() {
    var buffer = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
    while withUnsafeMutableBytes(of: &buffer, { read(fileDescriptor, $0.baseAddress, $0.count) }) > 0 {}
  }
}
