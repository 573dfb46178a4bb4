import Farm
import Foundation
import Synchronization
import TestSupport
import XCTest
import ZeroMQ

/// Coordinator and workers on threads of this process, on loopback.
final class FarmInProcessTests: XCTestCase {
  func testManyTasksOnThreeWorkersEachRunOnce() throws {
    let farm = try FarmHarness()
    let counter = ExecutionCounter()
    var registry = TaskRegistry()
    registry.register(CountingTask(counter: counter, delayMicroseconds: 2000))
    for name in ["w1", "w2", "w3"] { try farm.addWorker(name, registry: registry) }
    let client = try farm.client()
    let job = try client.submit(makeJob("many", count: 120, kind: CountingTask.kind) { Data(String($0).utf8) })
    let status = try client.wait(job, limit: .seconds(60))
    XCTAssertEqual(status.state, "done", status.error)
    XCTAssertEqual(status.tasksDone, 120)
    XCTAssertEqual(counter.snapshot.count, 120)
    XCTAssertTrue(counter.snapshot.values.allSatisfy { $0 == 1 }, "a task ran twice: \(counter.snapshot.filter { $0.value > 1 })")
    let detail = try client.status(job, allTasks: true)
    for task in detail.tasks {
      let index = Int(task.key.dropFirst(5))!
      let value = try farm.coordinator.artifacts.data(for: task.outputs[0].sha256)
      XCTAssertEqual(String(decoding: value, as: UTF8.self), String(index * 2))
    }
    // Work was spread: every worker ran some.
    let workers = Set(try farm.coordinator.store.leaseHistory(jobID: job).map(\.worker))
    XCTAssertEqual(workers, ["w1", "w2", "w3"])
    XCTAssertEqual(try client.workers().count, 3)
  }

  func testDependentTasksReceiveOutputsAndResultsAreExported() throws {
    let farm = try FarmHarness()
    try farm.addWorker("w1", registry: DiagnosticTasks.registry)
    try farm.addWorker("w2", registry: DiagnosticTasks.registry)
    try Data("1000".utf8).write(to: farm.folder.url.appendingPathComponent("seed.txt"))
    var spec = Redub_V1_JobSpec()
    spec.name = "chain"
    spec.outputDir = "out"
    spec.inputs = [.with { $0.name = "seed"; $0.path = "seed.txt" }]
    spec.tasks = [
      .with { $0.key = "a"; $0.stage = "first"; $0.taskKind = SumTask.kind; $0.parameters = Data(#"{"value": 5}"#.utf8)
        $0.inputs = [.with { $0.name = "s"; $0.jobInput = "seed" }] },
      .with { $0.key = "b"; $0.stage = "first"; $0.taskKind = SumTask.kind; $0.parameters = Data(#"{"value": 7, "steps": 3, "stepMilliseconds": 5}"#.utf8) },
      .with { $0.key = "c"; $0.stage = "second"; $0.taskKind = SumTask.kind; $0.dependsOn = ["a", "b"]
        $0.inputs = [.with { $0.name = "x"; $0.task = "a"; $0.output = "sum" }, .with { $0.name = "y"; $0.task = "b"; $0.output = "sum" }] },
    ]
    let client = try farm.client()
    let job = try client.submit(spec)
    XCTAssertEqual(try client.wait(job, limit: .seconds(30)).state, "done")
    let exported = farm.folder.url.appendingPathComponent("out/c/sum")
    XCTAssertTrue(try eventually(5) { FileManager.default.fileExists(atPath: exported.path) })
    XCTAssertEqual(try String(contentsOf: exported, encoding: .utf8), "1012")  // (5 + 1000) + 7
    let status = try client.status(job)
    XCTAssertEqual(status.stages.map(\.stage), ["first", "second"])
    XCTAssertEqual(status.stages.map(\.done), [2, 1])
  }

  func testAFanoutJobGrowsFromItsFirstTaskAndWritesOnlyItsDeclaredExport() throws {
    let farm = try FarmHarness()
    try farm.addWorker("w1", registry: DiagnosticTasks.registry)
    try farm.addWorker("w2", registry: DiagnosticTasks.registry)
    var spec = Redub_V1_JobSpec()
    spec.name = "fanout"
    spec.outputDir = "out"
    spec.tasks = [.with {
      $0.key = "fanout"
      $0.stage = "fanout"
      $0.taskKind = FanoutTask.kind
      $0.parameters = Data(#"{"count": 5, "steps": 2, "stepMilliseconds": 5}"#.utf8)
    }]
    let client = try farm.client()
    let job = try client.submit(spec)
    let status = try client.wait(job, limit: .seconds(30))
    XCTAssertEqual(status.state, "done", status.error)
    XCTAssertEqual(status.tasksTotal, 7)  // fanout + 5 parts + gather
    XCTAssertEqual(status.tasksDone, 7)
    let detail = try client.status(job, allTasks: true)
    XCTAssertEqual(detail.tasks.map(\.key).sorted(),
                   ["fanout", "fanout-gather"] + (0..<5).map { FanoutTask.partKey($0) })
    XCTAssertEqual(detail.stages.map(\.stage), ["fanout", "fanout-part", "fanout-gather"])
    // Part i sums i + 5; the gatherer sums the parts: 0+1+2+3+4 + 5·5.
    let out = farm.folder.url.appendingPathComponent("out")
    let exported = out.appendingPathComponent(FanoutTask.gatherExport)
    XCTAssertTrue(try eventually(5) { FileManager.default.fileExists(atPath: exported.path) })
    XCTAssertEqual(try String(contentsOf: exported, encoding: .utf8), "35")
    // Only the declared export is written: no task folders, no temporary files.
    XCTAssertTrue(try eventually(5) { try farm.coordinator.store.jobsToExport().isEmpty })
    let written = try FileManager.default.subpathsOfDirectory(atPath: out.path).sorted()
    XCTAssertEqual(written, [FanoutTask.gatherExport])
  }

  func testFollowUpsTheJobCannotTakeFailItAtOnceAndTheWorkerGoesOn() throws {
    /// Returns two follow-ups with the same key: a bug in the task kind.
    struct BadFollowUps: FarmTask {
      static let kind = "test.bad-follow-ups"
      func decodeParameters(_ bytes: Data) throws {}
      func run(_ parameters: Void, context: TaskContext) throws -> TaskProduct {
        let twin = Redub_V1_TaskSpec.with { $0.key = "twin"; $0.stage = "s"; $0.taskKind = SumTask.kind }
        return TaskProduct(outputs: ["n": Data("1".utf8)], followUpTasks: [twin, twin])
      }
    }
    let farm = try FarmHarness()
    var registry = DiagnosticTasks.registry
    registry.register(BadFollowUps())
    try farm.addWorker("w1", registry: registry)
    let client = try farm.client()
    let job = try client.submit(makeJob("bad", count: 1, kind: BadFollowUps.kind) { _ in Data() })
    let status = try client.wait(job, limit: .seconds(30))
    XCTAssertEqual(status.state, "failed")
    XCTAssertTrue(status.error.contains("task 'task-0000' returned follow-up tasks the job cannot take: task key 'twin' appears twice"),
                  status.error)
    let detail = try client.status(job, allTasks: true)
    XCTAssertEqual(detail.tasks.map(\.key), ["task-0000"], "nothing of the batch was added")
    XCTAssertEqual(detail.tasks.first?.attempts, 1, "not retried")
    XCTAssertEqual(detail.tasksTotal, 1)
    // The result was acknowledged: the worker holds nothing and runs the next job.
    let next = try client.submit(makeJob("next", count: 2, kind: SumTask.kind) { _ in Data() })
    XCTAssertEqual(try client.wait(next, limit: .seconds(30)).state, "done")
  }

  func testFollowUpsTooLargeForOneMessageFailTheTaskClearly() throws {
    /// Returns one follow-up whose parameters alone pass the control message limit.
    struct HugeFollowUp: FarmTask {
      static let kind = "test.huge-follow-up"
      func decodeParameters(_ bytes: Data) throws {}
      func run(_ parameters: Void, context: TaskContext) throws -> TaskProduct {
        let huge = Redub_V1_TaskSpec.with {
          $0.key = "huge"; $0.stage = "s"; $0.taskKind = SumTask.kind; $0.parameters = Data(count: Int(Wire.maxControlMessage))
        }
        return TaskProduct(followUpTasks: [huge])
      }
    }
    let farm = try FarmHarness()
    var registry = DiagnosticTasks.registry
    registry.register(HugeFollowUp())
    try farm.addWorker("w1", registry: registry)
    let client = try farm.client()
    let job = try client.submit(makeJob("huge", count: 1, kind: HugeFollowUp.kind) { _ in Data() })
    let status = try client.wait(job, limit: .seconds(30))
    XCTAssertEqual(status.state, "failed")
    XCTAssertTrue(status.error.contains("over the control message limit"), status.error)
    XCTAssertEqual(status.tasksTotal, 1)
  }

  func testAnExportOfAnOutputNeverProducedIsLogged() throws {
    let farm = try FarmHarness()
    try farm.addWorker("w1", registry: DiagnosticTasks.registry)
    var spec = Redub_V1_JobSpec()
    spec.name = "exports"
    spec.outputDir = "out"
    spec.tasks = [
      .with { $0.key = "a"; $0.stage = "s"; $0.taskKind = SumTask.kind; $0.parameters = Data(#"{"value": 3}"#.utf8)
        $0.exports = ["sum": "results/a.txt", "missing": "results/missing.txt"] },
      .with { $0.key = "b"; $0.stage = "s"; $0.taskKind = SumTask.kind },
    ]
    let client = try farm.client()
    let job = try client.submit(spec)
    XCTAssertEqual(try client.wait(job, limit: .seconds(30)).state, "done")
    XCTAssertTrue(try eventually(5) { try farm.coordinator.store.jobsToExport().isEmpty })
    let out = farm.folder.url.appendingPathComponent("out")
    XCTAssertEqual(try String(contentsOf: out.appendingPathComponent("results/a.txt"), encoding: .utf8), "3")
    XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: out.path).sorted(), ["results", "results/a.txt"])
    let failures = try farm.coordinator.store.events(kind: "export-failed", job: job)
    XCTAssertEqual(failures.count, 1)
    XCTAssertTrue(failures.first?.message.contains("task 'a' did not produce output 'missing'") ?? false, "\(failures)")
  }

  func testPathsOutsideTheDataRootAreRefused() throws {
    let farm = try FarmHarness()
    let client = try farm.client()
    var spec = makeJob("escape", count: 1, kind: SumTask.kind) { _ in Data() }
    spec.inputs = [.with { $0.name = "secret"; $0.path = "../../etc/passwd" }]
    XCTAssertThrowsError(try client.submit(spec)) { XCTAssertTrue("\($0)".contains("outside the coordinator's data root"), "\($0)") }
    spec.inputs = []
    spec.outputDir = "/tmp"
    XCTAssertThrowsError(try client.submit(spec)) { XCTAssertTrue("\($0)".contains("outside"), "\($0)") }
    XCTAssertEqual(try client.jobs().count, 0)
  }

  func testAlwaysFailingTaskFailsItsJobAfterThreeAttemptsAndBlocklists() throws {
    let farm = try FarmHarness()
    try farm.addWorker("w1", registry: DiagnosticTasks.registry)
    let client = try farm.client()
    var spec = makeJob("doomed", count: 1, kind: FailTask.kind) { _ in Data(#"{"message": "out of memory at step 3"}"#.utf8) }
    spec.tasks.append(.with { $0.key = "fine"; $0.stage = "test"; $0.taskKind = SumTask.kind })
    let job = try client.submit(spec)
    let status = try client.wait(job, limit: .seconds(30))
    XCTAssertEqual(status.state, "failed")
    XCTAssertTrue(status.error.contains("task task-0000 failed on worker w1 after 3 attempts: out of memory at step 3"), status.error)
    let detail = try client.status(job)
    XCTAssertEqual(detail.blocklistedWorkers, ["w1"])
    let failed = try XCTUnwrap(detail.tasks.first { $0.state == "failed" })
    XCTAssertEqual(failed.attempts, 3)
    XCTAssertEqual(failed.worker, "w1")
    XCTAssertEqual(try client.workers().first?.blocklistedForJobs, [job])
    // A non-retryable failure fails the job at once.
    let once = try client.submit(makeJob("once", count: 1, kind: FailTask.kind) { _ in Data(#"{"retryable": false}"#.utf8) })
    let onceStatus = try client.wait(once, limit: .seconds(30))
    XCTAssertEqual(onceStatus.state, "failed")
    XCTAssertTrue(onceStatus.error.contains("(not retryable)"), onceStatus.error)
  }

  func testCancelStopsRunningTasksAndResumeFinishesTheJob() throws {
    let farm = try FarmHarness()
    try farm.addWorker("w1", registry: DiagnosticTasks.registry)
    let client = try farm.client()
    let job = try client.submit(makeJob("slow", count: 3, kind: SumTask.kind) { _ in
      Data(#"{"steps": 20, "stepMilliseconds": 20}"#.utf8)
    })
    XCTAssertTrue(try eventually(10) { try client.status(job).tasks.contains { $0.state == "leased" } })
    let cancelled = try client.cancel(job)
    XCTAssertEqual(cancelled.state, "cancelled")
    XCTAssertEqual(cancelled.tasks, 1)
    XCTAssertTrue(try eventually(5) { try client.workers().first?.state == "idle" })
    let resumed = try client.resume(job)
    XCTAssertEqual(resumed.state, "running")
    XCTAssertEqual(resumed.tasks, 3)
    XCTAssertEqual(try client.wait(job, limit: .seconds(30)).state, "done")
  }

  func testProgressIsReportedInStatus() throws {
    let farm = try FarmHarness()
    try farm.addWorker("w1", registry: DiagnosticTasks.registry)
    let client = try farm.client()
    let job = try client.submit(makeJob("progress", count: 1, kind: SumTask.kind) { _ in
      Data(#"{"steps": 40, "stepMilliseconds": 25}"#.utf8)
    })
    var seen = false
    _ = try eventually(10) {
      let status = try client.status(job)
      if let task = status.tasks.first, task.total == 40, task.iteration > 0, task.iteration < 40 { seen = true }
      return seen || status.state != "running"
    }
    XCTAssertTrue(seen, "no intermediate progress in status")
    XCTAssertEqual(try client.wait(job, limit: .seconds(30)).state, "done")
  }

  /// A thumbnail rides on one progress report and stays the task's latest (in the live state and
  /// as `thumbnail_ready` in its status) through the reports without one, until a newer one
  /// comes; one over `Wire.thumbnailLimit` is never sent.
  func testTheLatestThumbnailOutlivesTheReportsWithoutOne() throws {
    let farm = try FarmHarness()
    let script = ThumbnailScript()
    var registry = TaskRegistry()
    registry.register(ThumbnailTask(script: script))
    try farm.addWorker("w1", registry: registry)
    let client = try farm.client()
    let job = try client.submit(makeJob("thumbnails", count: 1, kind: ThumbnailTask.kind) { _ in Data() })
    var task = Redub_V1_TaskStatus()
    XCTAssertTrue(try eventually(10) {
      task = try client.status(job).tasks.first ?? task
      return task.state == "leased" && task.iteration >= 3
    })
    XCTAssertFalse(task.thumbnailReady)
    // The live state is published every 200 ms.
    XCTAssertTrue(eventually(5) { farm.coordinator.liveState.progress[task.taskID] != nil })
    XCTAssertFalse(farm.coordinator.liveState.progress[task.taskID]?.hasThumbnail ?? true)

    /// Waits until the task reported `reports` more times, then returns its live thumbnail.
    func thumbnailAfter(_ reports: UInt64) throws -> Data? {
      let start = farm.coordinator.liveState.progress[task.taskID]?.iteration ?? 0
      XCTAssertTrue(eventually(10) { (farm.coordinator.liveState.progress[task.taskID]?.iteration ?? 0) >= start + reports })
      let report = farm.coordinator.liveState.progress[task.taskID]
      return report?.hasThumbnail == true ? report?.thumbnail.png : nil
    }
    let first = Data("first picture".utf8), second = Data("second picture".utf8)
    script.send(TaskThumbnail(png: first, caption: "frame 1"))
    XCTAssertTrue(eventually(10) { farm.coordinator.liveState.progress[task.taskID]?.thumbnail.png == first })
    XCTAssertEqual(farm.coordinator.liveState.progress[task.taskID]?.thumbnail.caption, "frame 1")
    XCTAssertEqual(try thumbnailAfter(20), first, "reports without a thumbnail keep the last one")
    XCTAssertTrue(try client.status(job).tasks.first?.thumbnailReady ?? false)
    script.send(TaskThumbnail(png: Data(count: Wire.thumbnailLimit + 1), caption: "too big"))
    XCTAssertEqual(try thumbnailAfter(20), first, "an oversized thumbnail is not sent")
    script.send(TaskThumbnail(png: second, caption: "frame 2"))
    XCTAssertTrue(eventually(10) { farm.coordinator.liveState.progress[task.taskID]?.thumbnail.png == second })
    script.stop.store(true, ordering: .relaxed)
    XCTAssertEqual(try client.wait(job, limit: .seconds(30)).state, "done")
    XCTAssertTrue(eventually(5) { farm.coordinator.liveState.progress[task.taskID] == nil }, "a finished task's thumbnail goes")
  }

  func testGarbageOnBothSocketsIsSurvivedAndOversizedMessagesRefused() throws {
    let farm = try FarmHarness()
    let context = try ZMQContext()
    var generator = SystemRandomNumberGenerator()
    for endpoint in [farm.coordinator.controlEndpoint, farm.coordinator.bulkEndpoint] {
      let attacker = try ZMQSocket(context, type: .dealer)
      try attacker.set(.sendHighWaterMark, 20_000)
      try attacker.connect(endpoint)
      for index in 0..<10_000 {
        let count = Int.random(in: 0..<64, using: &generator)
        var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
        if index % 3 == 0 { bytes = Array(Wire.encode(.heartbeat(.init()))) + bytes }  // valid prefix, junk after
        if index % 7 == 0 {
          try attacker.sendMultipart([bytes, bytes])  // wrong frame count
        } else {
          try attacker.send(bytes)
        }
      }
      // A 17 MiB message exceeds the control limit; the socket drops that peer.
      let oversized = try ZMQSocket(context, type: .dealer)
      try oversized.connect(endpoint)
      try oversized.send([UInt8](repeating: 7, count: 17 << 20))
      try oversized.set(.receiveTimeout, 300)
      XCTAssertThrowsError(try oversized.receive())
    }
    // Every bad message was counted (and logged, rate-limited); most are undecodable junk.
    XCTAssertTrue(eventually(10) { farm.coordinator.malformedMessages > 2 * 6_000 }, "\(farm.coordinator.malformedMessages)")
    // The coordinator still serves: a worker joins and a job completes.
    try farm.addWorker("w1", registry: DiagnosticTasks.registry)
    let client = try farm.client()
    let job = try client.submit(makeJob("after-garbage", count: 5, kind: SumTask.kind) { Data("{\"value\": \($0)}".utf8) })
    XCTAssertEqual(try client.wait(job, limit: .seconds(30)).state, "done")
  }

  func testALeaseWithoutProgressLapsesAndTheTaskRunsAgain() throws {
    let farm = try FarmHarness { $0.progressTimeout = .milliseconds(300) }
    try farm.addWorker("w1", registry: DiagnosticTasks.registry)
    let client = try farm.client()
    // One silent step of 800 ms: longer than the progress timeout, while heartbeats keep flowing.
    let job = try client.submit(makeJob("silent", count: 1, kind: SumTask.kind) { _ in
      Data(#"{"steps": 1, "stepMilliseconds": 800}"#.utf8)
    })
    XCTAssertTrue(try eventually(10) { try farm.coordinator.store.leaseHistory(jobID: job).count >= 2 })
    let first = try XCTUnwrap(farm.coordinator.store.leaseHistory(jobID: job).first)
    XCTAssertEqual(first.outcome, "expired")
    let events = try farm.coordinator.store.events(kind: "lease-expired")
    XCTAssertTrue(events.first?.message.contains("no progress") ?? false, "\(events)")
    _ = try client.cancel(job)
  }
}

/// What the thumbnail test's task sends: the next thumbnail (taken by one report), and when to stop.
final class ThumbnailScript: Sendable {
  let pending = Mutex<TaskThumbnail?>(nil)
  let stop = Atomic<Bool>(false)
  func send(_ thumbnail: TaskThumbnail) { pending.withLock { $0 = thumbnail } }
  func take() -> TaskThumbnail? { pending.withLock { value in defer { value = nil }; return value } }
}

/// "test.thumbnail": reports progress every 5 ms, with a thumbnail whenever the script has one.
struct ThumbnailTask: FarmTask {
  static let kind = "test.thumbnail"
  let script: ThumbnailScript
  func decodeParameters(_ bytes: Data) throws {}
  func run(_ parameters: Void, context: TaskContext) throws -> TaskProduct {
    var step: UInt64 = 0
    while !script.stop.load(ordering: .relaxed) {
      try context.checkCancellation()
      step += 1
      context.report(TaskProgress(iteration: step, total: 1_000_000, thumbnail: script.take()))
      usleep(5_000)
    }
    return TaskProduct(outputs: ["steps": Data(String(step).utf8)])
  }
}
