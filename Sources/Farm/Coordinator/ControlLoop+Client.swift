import Foundation
import Synchronization
import ZeroMQ

extension Coordinator {
  /// `path` (absolute, or relative to the data root) if it lies inside the data root.
  func resolveInDataRoot(_ path: String) throws(FarmError) -> URL {
    let root = Coordinator.resolvingExistingPrefix(configuration.dataRoot.path)
    let joined = path.hasPrefix("/") ? path : configuration.dataRoot.path + "/" + path
    let resolved = Coordinator.resolvingExistingPrefix(joined)
    let rootPath = root.path.hasSuffix("/") ? root.path : root.path + "/"
    guard resolved.path == root.path || resolved.path.hasPrefix(rootPath) else {
      throw FarmError.pathOutsideDataRoot(path)
    }
    return resolved
  }

  /// The path with "." and ".." removed and symbolic links resolved in its longest existing prefix.
  static func resolvingExistingPrefix(_ path: String) -> URL {
    let standardized = URL(fileURLWithPath: path).standardizedFileURL
    var existing = standardized
    var rest: [String] = []
    while !FileManager.default.fileExists(atPath: existing.path) && existing.path != "/" {
      rest.insert(existing.lastPathComponent, at: 0)
      existing.deleteLastPathComponent()
    }
    var resolved = existing.resolvingSymlinksInPath()
    for component in rest { resolved.appendPathComponent(component) }
    return resolved.standardizedFileURL
  }
}

extension ControlLoop {
  func handleClient(_ envelope: Redub_V1_Envelope, routingID: Data) {
    let requestID = envelope.requestID
    do {
      switch envelope.body {
      case .submit(let submit):
        try startSubmission(submit.spec, routingID: routingID, requestID: requestID)
      case .statusRequest(let request):
        let status = request.summaryOnly ? try store.summary(jobID: request.jobID) : try status(request.jobID, allTasks: request.allTasks)
        send(routingID, .jobStatus(status), requestID: requestID)
      case .listJobs:
        let jobs = try store.jobs()
        send(routingID, .jobList(.with { $0.jobs = jobs }), requestID: requestID)
      case .resume(let resume):
        let count = try store.resume(jobID: resume.jobID)
        logger.info("job \(resume.jobID) resumed: \(count) tasks requeued")
        let state = try store.status(jobID: resume.jobID).state
        send(routingID, .actionReply(.with { $0.jobID = resume.jobID; $0.state = state; $0.tasks = UInt32(count) }),
             requestID: requestID)
        offerToWaiting()
      case .cancel(let cancel):
        let cancelled = try store.cancel(jobID: cancel.jobID)
        cancelOnWorkers(cancelled, reason: "job \(cancel.jobID) cancelled")
        let state = try store.status(jobID: cancel.jobID).state
        send(routingID, .actionReply(.with {
          $0.jobID = cancel.jobID; $0.state = state; $0.tasks = UInt32(cancelled.count)
        }), requestID: requestID)
      case .workersRequest:
        send(routingID, .workerList(try workerList()), requestID: requestID)
      default:
        break
      }
    } catch {
      send(routingID, .clientError(.with { $0.message = "\(error)" }), requestID: requestID)
    }
  }

  /// Checks a submission, then reads its inputs into the blob store on a thread of its own;
  /// `finishImports` records the job and answers the client.
  func startSubmission(_ spec: Redub_V1_JobSpec, routingID: Data, requestID: UInt64) throws(FarmError) {
    if !spec.outputDir.isEmpty { _ = try coordinator.resolveInDataRoot(spec.outputDir) }
    var names = Set<String>()
    var files: [String: URL] = [:]
    for input in spec.inputs {
      guard !input.name.isEmpty, names.insert(input.name).inserted else {
        throw FarmError.invalidJob("job inputs need distinct, non-empty names ('\(input.name)')")
      }
      if !input.path.isEmpty { files[input.name] = try coordinator.resolveInDataRoot(input.path) }
    }
    try JobStore.validate(spec, inputNames: names)
    if !files.isEmpty {
      // Tells the client the submission is good and its files are being read (it may take a while).
      send(routingID, .actionReply(.with { $0.state = "importing" }), requestID: requestID)
    }
    let blobs = coordinator.blobs
    let paths = files
    let queue = finishedImports
    let context = coordinator.context
    let endpoint = importsEndpoint
    let thread = Thread {
      let outcome: Result<[StoredInput], FarmError>
      do throws(FarmError) {
        var inputs: [StoredInput] = []
        for input in spec.inputs {
          if let url = paths[input.name] {
            let (hash, size) = try blobs.importFile(at: url)
            inputs.append(StoredInput(name: input.name, sha256: hash, size: size))
          } else {
            let hash = try blobs.put(input.data)
            inputs.append(StoredInput(name: input.name, sha256: hash, size: UInt64(input.data.count)))
          }
        }
        outcome = .success(inputs)
      } catch {
        outcome = .failure(error)
      }
      queue.append(FinishedImport(spec: spec, routingID: routingID, requestID: requestID, outcome: outcome))
      if let wake = try? ZMQSocket(context, type: .push) {
        try? wake.set(.linger, 1000)
        try? wake.connect(endpoint)
        try? wake.send([1], flags: .dontWait)
      }
    }
    thread.name = "coordinator-import"
    thread.start()
  }

  /// Records the jobs whose inputs are in the blob store and answers their clients.
  func finishImports() {
    for finished in finishedImports.takeAll() {
      do {
        let inputs = try finished.outcome.get()
        let jobID = try store.submit(finished.spec, inputs: inputs)
        logger.info("job \(jobID) submitted: \(finished.spec.tasks.count) tasks")
        send(finished.routingID, .submitReply(.with { $0.jobID = jobID }), requestID: finished.requestID)
      } catch {
        send(finished.routingID, .clientError(.with { $0.message = "\(error)" }), requestID: finished.requestID)
      }
    }
    offerToWaiting()
  }

  /// The stored status plus live progress of running tasks and the job's blocklist.
  func status(_ jobID: String, allTasks: Bool) throws(FarmError) -> Redub_V1_JobStatus {
    var status = try store.status(jobID: jobID, allTasks: allTasks)
    status.blocklistedWorkers = try store.blocklistedWorkers(jobID: jobID, threshold: policy.blocklistAfter)
    CoordinatorLiveState.addProgress(liveProgress(), to: &status)
    return status
  }

  /// The latest progress report of every lease, by task id.
  func liveProgress() -> [UInt64: Redub_V1_Progress] {
    var progress: [UInt64: Redub_V1_Progress] = [:]
    for (taskID, track) in leases { if let report = track.progress { progress[UInt64(taskID)] = report } }
    return progress
  }

  func workerList() throws(FarmError) -> Redub_V1_WorkerList {
    var list = Redub_V1_WorkerList()
    list.workers = workerInfos()
    for index in list.workers.indices {
      list.workers[index].blocklistedForJobs = try store.blocklistedJobs(worker: list.workers[index].workerID, threshold: policy.blocklistAfter)
    }
    return list
  }

  /// The connected workers by name, without their blocklists (those are in the database).
  func workerInfos() -> [Redub_V1_WorkerInfo] {
    let now = clock.now
    let wallNow = Date().timeIntervalSince1970
    return workers.values.sorted(by: { $0.name < $1.name }).map { session in
      var info = Redub_V1_WorkerInfo()
      info.workerID = session.id
      info.name = session.name
      info.capabilities = session.capabilities
      info.publicKey = session.publicKey
      info.cachedBlobs = UInt32(session.cached.count)
      let silence = now - session.lastHeard
      info.lastHeartbeatUnix = wallNow - Double(silence.components.seconds) - Double(silence.components.attoseconds) * 1e-18
      if let taskID = session.lease, let track = leases[taskID] {
        info.taskID = UInt64(taskID)
        info.taskKey = track.key
        info.jobID = track.jobID
      }
      info.state = session.draining ? "draining" : session.lease != nil ? "busy" : "idle"
      return info
    }
  }

  /// Publishes the workers and live progress for readers that must not wait for this thread.
  func publishLiveState() {
    lastPublished = clock.now
    var state = CoordinatorLiveState()
    state.publishedUnix = Date().timeIntervalSince1970
    state.workers = workerInfos()
    state.progress = liveProgress()
    coordinator.publish(state)
  }
}

/// A submission whose inputs were read.
struct FinishedImport: Sendable {
  var spec: Redub_V1_JobSpec
  var routingID: Data
  var requestID: UInt64
  var outcome: Result<[StoredInput], FarmError>
}

/// Submissions handed from import threads to the control thread.
final class ImportQueue: Sendable {
  private let queue = Mutex<[FinishedImport]>([])
  func append(_ item: FinishedImport) { queue.withLock { $0.append(item) } }
  func takeAll() -> [FinishedImport] {
    queue.withLock { queue in
      defer { queue.removeAll() }
      return queue
    }
  }
}
