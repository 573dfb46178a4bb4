@testable import Farm
import Foundation
import TestSupport
import XCTest

/// Follow-up tasks (a task extends its own job with its result) and declared exports, at the
/// job store.
final class FollowUpTaskTests: XCTestCase {
  let policy = FailurePolicy()

  func makeStore(_ folder: TemporaryFolder) throws -> JobStore {
    try JobStore(path: folder.url.appendingPathComponent("farm.sqlite"))
  }

  func task(_ key: String, dependsOn: [String] = [], inputs: [Redub_V1_InputBinding] = [],
            exports: [String: String] = [:]) -> Redub_V1_TaskSpec {
    .with {
      $0.key = key
      $0.stage = "s"
      $0.taskKind = "k"
      $0.dependsOn = dependsOn
      $0.inputs = inputs
      $0.exports = exports
    }
  }

  func output(_ task: String, _ name: String) -> Redub_V1_InputBinding {
    .with { $0.name = "\(task).\(name)"; $0.task = task; $0.output = name }
  }

  func blob(_ name: String, _ letter: Character = "b") -> StoredInput {
    StoredInput(name: name, sha256: String(repeating: letter, count: 64), size: 4)
  }

  /// Leases the task with `key` (the only ready one of the kind, or fails).
  func lease(_ store: JobStore, _ key: String, worker: String = "w") throws -> LeaseGrant {
    let grant = try XCTUnwrap(store.leaseNextTask(worker: worker, kinds: ["k"], cached: [], policy: policy))
    XCTAssertEqual(grant.key, key)
    return grant
  }

  func states(_ store: JobStore, _ job: String) throws -> [String: String] {
    Dictionary(uniqueKeysWithValues: try store.status(jobID: job, allTasks: true).tasks.map { ($0.key, $0.state) })
  }

  func taskCount(_ store: JobStore) throws -> Int {
    try store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tasks") ?? 0 }
  }

  func testFollowUpsJoinTheJobReadyOrWaitingAndTheJobWaitsForThem() throws {
    let folder = TemporaryFolder("followups")
    let store = try makeStore(folder)
    let clip = StoredInput(name: "clip", sha256: String(repeating: "a", count: 64), size: 10)
    let job = try store.submit(.with {
      $0.inputs = [.with { $0.name = "clip" }]
      $0.tasks = [task("prepare"), task("other")]
    }, inputs: [clip])
    let prepare = try lease(store, "prepare")
    let other = try lease(store, "other", worker: "w2")
    let followUps = [
      // Reads the finishing task's output: ready at once.
      task("part-0", dependsOn: ["prepare"], inputs: [output("prepare", "frames")]),
      // Waits for an earlier follow-up.
      task("part-1", dependsOn: ["prepare", "part-0"], inputs: [output("part-0", "sum")]),
      // Waits for a stored task still running.
      task("after-other", dependsOn: ["other"], inputs: [.with { $0.name = "video"; $0.jobInput = "clip" }]),
      // No dependency at all: ready at once.
      task("free", exports: ["sum": "out/free.txt"]),
    ]
    XCTAssertEqual(try store.complete(taskID: prepare.taskID, epoch: prepare.epoch, worker: "w", outputs: [blob("frames")],
                                      metrics: [], seconds: 0, followUps: followUps),
                   .accepted(finishedJob: nil))
    XCTAssertEqual(try states(store, job), [
      "prepare": "done", "other": "leased", "part-0": "ready", "part-1": "waiting", "after-other": "waiting", "free": "ready",
    ])
    var status = try store.status(jobID: job)
    XCTAssertEqual(status.tasksTotal, 6)
    XCTAssertEqual(status.tasksDone, 1)
    XCTAssertEqual(try store.exports(jobID: job),
                   [JobExport(path: "out/free.txt", taskKey: "free", output: "sum", sha256: nil, size: nil)])
    XCTAssertEqual(try store.events(kind: "follow-ups", job: job).count, 1)

    // The first follow-up gets the finishing task's output as input, under its own name.
    let part0 = try lease(store, "part-0")
    XCTAssertEqual(part0.inputs, [StoredInput(name: "prepare.frames", sha256: blob("frames").sha256, size: 4)])
    let free = try lease(store, "free", worker: "w3")
    XCTAssertNil(try store.leaseNextTask(worker: "w4", kinds: ["k"], cached: [], policy: policy), "the rest must wait")
    _ = try store.complete(taskID: part0.taskID, epoch: part0.epoch, worker: "w", outputs: [blob("sum", "c")], metrics: [], seconds: 0)
    let part1 = try lease(store, "part-1")
    XCTAssertEqual(part1.inputs.map(\.sha256), [String(repeating: "c", count: 64)])
    _ = try store.complete(taskID: part1.taskID, epoch: part1.epoch, worker: "w", outputs: [], metrics: [], seconds: 0)
    _ = try store.complete(taskID: other.taskID, epoch: other.epoch, worker: "w2", outputs: [], metrics: [], seconds: 0)
    let afterOther = try lease(store, "after-other")
    XCTAssertEqual(afterOther.inputs, [StoredInput(name: "video", sha256: clip.sha256, size: 10)])
    XCTAssertEqual(try store.complete(taskID: afterOther.taskID, epoch: afterOther.epoch, worker: "w", outputs: [],
                                      metrics: [], seconds: 0), .accepted(finishedJob: nil))
    XCTAssertEqual(try store.status(jobID: job).state, "running", "the job waits for its last follow-up")
    XCTAssertEqual(try store.complete(taskID: free.taskID, epoch: free.epoch, worker: "w3", outputs: [blob("sum", "d")],
                                      metrics: [], seconds: 0), .accepted(finishedJob: job))
    status = try store.status(jobID: job)
    XCTAssertEqual(status.state, "done")
    XCTAssertEqual(status.tasksDone, 6)
    XCTAssertEqual(try store.exports(jobID: job).first?.sha256, String(repeating: "d", count: 64))
  }

  func testTheLastTaskWithFollowUpsDoesNotFinishItsJob() throws {
    let folder = TemporaryFolder("followups")
    let store = try makeStore(folder)
    let job = try store.submit(.with { $0.tasks = [task("only")] }, inputs: [])
    let only = try lease(store, "only")
    XCTAssertEqual(try store.complete(taskID: only.taskID, epoch: only.epoch, worker: "w", outputs: [], metrics: [],
                                      seconds: 0, followUps: [task("next", dependsOn: ["only"])]),
                   .accepted(finishedJob: nil))
    XCTAssertEqual(try store.status(jobID: job).state, "running")
    XCTAssertEqual(try store.status(jobID: job).tasksTotal, 2)
    let next = try lease(store, "next")
    XCTAssertEqual(try store.complete(taskID: next.taskID, epoch: next.epoch, worker: "w", outputs: [], metrics: [], seconds: 0),
                   .accepted(finishedJob: job))
  }

  func testInvalidFollowUpsFailTheTaskAndJobAndInsertNothing() throws {
    let folder = TemporaryFolder("followups")
    let store = try makeStore(folder)
    func check(_ followUps: [Redub_V1_TaskSpec], _ fragment: String, exact: Bool = false,
               file: StaticString = #filePath, line: UInt = #line) throws {
      let job = try store.submit(.with {
        $0.tasks = [task("prepare"), task("later", dependsOn: ["prepare"], exports: ["o": "taken.txt"])]
      }, inputs: [])
      let before = try taskCount(store)
      let prepare = try lease(store, "prepare")
      let outcome = try store.complete(taskID: prepare.taskID, epoch: prepare.epoch, worker: "w", outputs: [blob("frames")],
                                       smallBlobs: [String(repeating: "e", count: 64): Data("tiny".utf8)],
                                       metrics: [("m", 1)], seconds: 0, followUps: followUps)
      let prefix = "task 'prepare' returned follow-up tasks the job cannot take: "
      guard case .rejected(let rejectedJob, let error, let cancelled) = outcome else {
        return XCTFail("accepted bad follow-ups: \(outcome)", file: file, line: line)
      }
      XCTAssertEqual(rejectedJob, job, file: file, line: line)
      XCTAssertTrue(error.hasPrefix(prefix) && error.contains(fragment), error, file: file, line: line)
      XCTAssertEqual(cancelled, [], file: file, line: line)
      let status = try store.status(jobID: job, allTasks: true)
      XCTAssertEqual(status.state, "failed", file: file, line: line)
      XCTAssertTrue(status.error.contains(prefix) && status.error.contains(fragment), status.error, file: file, line: line)
      XCTAssertEqual(status.tasksTotal, 2, file: file, line: line)
      XCTAssertEqual(status.tasksDone, 0, file: file, line: line)
      let failed = try XCTUnwrap(status.tasks.first { $0.key == "prepare" }, file: file, line: line)
      XCTAssertEqual(failed.state, "failed", file: file, line: line)
      XCTAssertTrue(failed.error.contains(fragment), failed.error, file: file, line: line)
      if exact { XCTAssertEqual(failed.error, prefix + fragment, file: file, line: line) }
      XCTAssertEqual(failed.outputs, [], "the rejected result stored no outputs", file: file, line: line)
      XCTAssertEqual(status.tasks.first { $0.key == "later" }?.state, "cancelled", file: file, line: line)
      XCTAssertEqual(try taskCount(store), before, "nothing of the bad batch is inserted", file: file, line: line)
      XCTAssertEqual(try store.exports(jobID: job).map(\.path), ["taken.txt"], file: file, line: line)
      XCTAssertNil(try store.smallBlob(String(repeating: "e", count: 64)), file: file, line: line)
      XCTAssertEqual(try store.leaseHistory(jobID: job).first?.outcome, "failed", file: file, line: line)
    }
    let good = task("fine", dependsOn: ["prepare"])
    try check([good, task("x"), task("x")], "task key 'x' appears twice", exact: true)
    try check([good, task("later")], "task key 'later' appears twice")
    try check([good, task("x", dependsOn: ["nowhere"])], "task 'x' depends on 'nowhere', which is not declared before it")
    try check([task("x", dependsOn: ["y"]), task("y")], "task 'x' depends on 'y', which is not declared before it")
    try check([good, task("x", inputs: [output("prepare", "frames")])],
              "task 'x' input 'prepare.frames' must name a job input, or an output of a task it depends on")
    try check([task("x", dependsOn: ["prepare"], inputs: [.with { $0.name = "v"; $0.jobInput = "clip" }])],
              "task 'x' reads job input 'clip', which the job does not have")
    try check([task("x", dependsOn: ["prepare"], inputs: [output("prepare", "nothing")])],
              "reads output 'nothing' of 'prepare', which that task did not produce")
    try check([good, task("x", exports: ["sum": "../escape.txt"])], "'..' component")
    try check([good, task("x", exports: ["sum": "/etc/passwd"])], "an absolute path")
    try check([good, task("x", exports: ["sum": "taken.txt"])], "which another export of the job already writes")
    try check([task("x", exports: ["sum": "a.txt"]), task("y", exports: ["sum": "a.txt"])],
              "which another export of the job already writes")
    try check([task("", dependsOn: ["prepare"])], "every task needs a key")
  }

  func testARejectedResultCancelsTheJobsOtherLeases() throws {
    let folder = TemporaryFolder("followups")
    let store = try makeStore(folder)
    let job = try store.submit(.with { $0.tasks = [task("prepare"), task("busy")] }, inputs: [])
    let prepare = try lease(store, "prepare")
    let busy = try lease(store, "busy", worker: "w2")
    let outcome = try store.complete(taskID: prepare.taskID, epoch: prepare.epoch, worker: "w", outputs: [], metrics: [],
                                     seconds: 0, followUps: [task("a"), task("a")])
    guard case .rejected(job, _, let cancelled) = outcome else { return XCTFail("\(outcome)") }
    XCTAssertEqual(cancelled, [LeaseRef(taskID: busy.taskID, epoch: busy.epoch, worker: "w2")])
    // Re-delivering the rejected result is refused as stale (the task failed), adding nothing.
    guard case .stale = try store.complete(taskID: prepare.taskID, epoch: prepare.epoch, worker: "w", outputs: [],
                                           metrics: [], seconds: 0, followUps: [task("a")]) else { return XCTFail() }
    XCTAssertEqual(try taskCount(store), 2)
  }

  func testDuplicateDeliveryInsertsFollowUpsOnceAndStaleResultsInsertNone() throws {
    let folder = TemporaryFolder("followups")
    let store = try makeStore(folder)
    let job = try store.submit(.with { $0.tasks = [task("prepare")] }, inputs: [])
    let prepare = try lease(store, "prepare")
    let followUps = [task("p0", dependsOn: ["prepare"]), task("p1", dependsOn: ["prepare"])]
    // A result from an epoch that is not the lease's is stale: nothing is added.
    guard case .stale = try store.complete(taskID: prepare.taskID, epoch: prepare.epoch + 1, worker: "w", outputs: [],
                                           metrics: [], seconds: 0, followUps: followUps) else { return XCTFail() }
    guard case .stale = try store.complete(taskID: prepare.taskID, epoch: prepare.epoch, worker: "intruder", outputs: [],
                                           metrics: [], seconds: 0, followUps: followUps) else { return XCTFail() }
    XCTAssertEqual(try taskCount(store), 1)
    XCTAssertEqual(try store.status(jobID: job).tasksTotal, 1)
    XCTAssertEqual(try store.complete(taskID: prepare.taskID, epoch: prepare.epoch, worker: "w", outputs: [], metrics: [],
                                      seconds: 0, followUps: followUps), .accepted(finishedJob: nil))
    // The same result again (a restarted coordinator's worker re-sends it): acknowledged, not re-added.
    XCTAssertEqual(try store.complete(taskID: prepare.taskID, epoch: prepare.epoch, worker: "w", outputs: [], metrics: [],
                                      seconds: 0, followUps: followUps), .duplicate)
    let reopened = try makeStore(folder)
    XCTAssertEqual(try reopened.complete(taskID: prepare.taskID, epoch: prepare.epoch, worker: "w", outputs: [], metrics: [],
                                         seconds: 0, followUps: followUps), .duplicate)
    XCTAssertEqual(try taskCount(reopened), 3)
    let status = try reopened.status(jobID: job, allTasks: true)
    XCTAssertEqual(status.tasksTotal, 3)
    XCTAssertEqual(status.tasks.map(\.key).sorted(), ["p0", "p1", "prepare"])
    XCTAssertEqual(status.state, "running")
  }

  func testCancelAndResumeTreatFollowUpsLikeAnyTask() throws {
    let folder = TemporaryFolder("followups")
    let store = try makeStore(folder)
    let job = try store.submit(.with { $0.tasks = [task("prepare")] }, inputs: [])
    let prepare = try lease(store, "prepare")
    _ = try store.complete(taskID: prepare.taskID, epoch: prepare.epoch, worker: "w", outputs: [], metrics: [], seconds: 0,
                           followUps: [task("a", dependsOn: ["prepare"]), task("b", dependsOn: ["a"])])
    let a = try lease(store, "a")
    XCTAssertEqual(try store.cancel(jobID: job), [LeaseRef(taskID: a.taskID, epoch: a.epoch, worker: "w")])
    XCTAssertEqual(try states(store, job), ["prepare": "done", "a": "cancelled", "b": "cancelled"])
    XCTAssertEqual(try store.resume(jobID: job), 2)
    XCTAssertEqual(try states(store, job), ["prepare": "done", "a": "ready", "b": "waiting"])
    let again = try lease(store, "a")
    _ = try store.complete(taskID: again.taskID, epoch: again.epoch, worker: "w", outputs: [], metrics: [], seconds: 0)
    let b = try lease(store, "b")
    XCTAssertEqual(try store.complete(taskID: b.taskID, epoch: b.epoch, worker: "w", outputs: [], metrics: [], seconds: 0),
                   .accepted(finishedJob: job))
  }

  func testFollowUpsKeepTheirJobsPriority() throws {
    let folder = TemporaryFolder("followups")
    let store = try makeStore(folder)
    let urgent = try store.submit(.with { $0.priority = 9; $0.tasks = [task("prepare")] }, inputs: [])
    let prepare = try lease(store, "prepare")
    let later = try store.submit(.with { $0.priority = 1; $0.tasks = [task("low")] }, inputs: [])
    _ = try store.complete(taskID: prepare.taskID, epoch: prepare.epoch, worker: "w", outputs: [], metrics: [], seconds: 0,
                           followUps: [task("grown", dependsOn: ["prepare"])])
    let next = try XCTUnwrap(store.leaseNextTask(worker: "w", kinds: ["k"], cached: [], policy: policy))
    XCTAssertEqual(next.jobID, urgent)
    XCTAssertEqual(next.key, "grown")
    XCTAssertEqual(try store.leaseNextTask(worker: "w2", kinds: ["k"], cached: [], policy: policy)?.jobID, later)
  }

  func testExportPathsAreCheckedAtSubmission() throws {
    func check(_ tasks: [Redub_V1_TaskSpec], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
      XCTAssertThrowsError(try JobStore.validate(.with { $0.tasks = tasks }, inputNames: []), file: file, line: line) { error in
        guard case FarmError.invalidJob(let detail) = error else { return XCTFail("\(error)", file: file, line: line) }
        XCTAssertTrue(detail.contains(fragment), detail, file: file, line: line)
      }
    }
    check([task("a", exports: ["o": ""])], "task 'a' exports output 'o' to '', an empty path")
    check([task("a", exports: ["o": "/tmp/x"])], "an absolute path")
    check([task("a", exports: ["o": ".."])], "'..' component")
    check([task("a", exports: ["o": "x/../../y"])], "'..' component")
    check([task("a", exports: ["o": "x//y"])], "empty component")
    check([task("a", exports: ["o": "x/"])], "empty component")
    check([task("a", exports: ["o": "./x"])], "'.' component")
    check([task("a", exports: ["": "x"])], "an output with an empty name")
    check([task("a", exports: ["o": "x.txt"]), task("b", exports: ["o": "x.txt"])],
          "task 'b' exports output 'o' to 'x.txt', which another export of the job already writes")
    check([task("a", exports: ["o": "x", "p": "x"])], "already writes")
    check([task("a", exports: ["o": "x"]), task("b", exports: ["o": "x/y.txt"])], "inside 'x'")
    check([task("a", exports: ["o": "x/y.txt"]), task("b", exports: ["o": "x"])], "needs as the folder of 'x/y.txt'")
    XCTAssertNoThrow(try JobStore.validate(.with {
      $0.tasks = [task("a", exports: ["o": "result.txt", "p": "deep/folder/p.bin"]), task("b", exports: ["o": "deep/b.bin"])]
    }, inputNames: []))

    // The store refuses such a job and keeps nothing of it; a good one's exports are recorded.
    let folder = TemporaryFolder("followups")
    let store = try makeStore(folder)
    XCTAssertThrowsError(try store.submit(.with { $0.tasks = [task("a", exports: ["o": "../x"])] }, inputs: []))
    XCTAssertEqual(try store.jobs().count, 0)
    let job = try store.submit(.with { $0.tasks = [task("a", exports: ["o": "r/a.txt"]), task("b")] }, inputs: [])
    XCTAssertEqual(try store.exports(jobID: job),
                   [JobExport(path: "r/a.txt", taskKey: "a", output: "o", sha256: nil, size: nil)])
  }
}
