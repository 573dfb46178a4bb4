@testable import Farm
import Foundation
import GRDB
import XCTest

final class JobStoreTests: XCTestCase {
  let policy = FailurePolicy()

  func makeStore(_ folder: TemporaryFolder) throws -> JobStore {
    try JobStore(path: folder.url.appendingPathComponent("farm.sqlite"))
  }

  func task(_ key: String, kind: String = "k", dependsOn: [String] = [], inputs: [Redub_V1_InputBinding] = []) -> Redub_V1_TaskSpec {
    .with {
      $0.key = key
      $0.stage = "s"
      $0.taskKind = kind
      $0.dependsOn = dependsOn
      $0.inputs = inputs
    }
  }

  func testValidationRefusesBadSpecs() {
    func check(_ tasks: [Redub_V1_TaskSpec], _ fragment: String, inputs: Set<String> = []) {
      XCTAssertThrowsError(try JobStore.validate(.with { $0.tasks = tasks }, inputNames: inputs)) { error in
        XCTAssertTrue("\(error)".contains(fragment), "\(error)")
      }
    }
    check([], "at least one task")
    check([task("a"), task("a")], "appears twice")
    check([task("a", dependsOn: ["b"]), task("b")], "not declared before")
    check([task("a", kind: "")], "no task kind")
    check([task("a", inputs: [.with { $0.name = "x"; $0.jobInput = "missing" }])], "does not have")
    check([task("a"), task("b", inputs: [.with { $0.name = "x"; $0.task = "a"; $0.output = "o" }])], "depends on")
  }

  func testLeasesByPriorityThenAgeAndRefusesStaleEpochs() throws {
    let folder = TemporaryFolder("store")
    let store = try makeStore(folder)
    let low = try store.submit(.with { $0.name = "low"; $0.tasks = [task("l1"), task("l2")] }, inputs: [])
    let high = try store.submit(.with { $0.name = "high"; $0.priority = 5; $0.tasks = [task("h1")] }, inputs: [])
    let first = try XCTUnwrap(store.leaseNextTask(worker: "w1", kinds: ["k"], cached: [], policy: policy))
    XCTAssertEqual(first.jobID, high)
    let second = try XCTUnwrap(store.leaseNextTask(worker: "w2", kinds: ["k"], cached: [], policy: policy))
    XCTAssertEqual(second.jobID, low)
    XCTAssertEqual(second.key, "l1")
    XCTAssertNil(try store.leaseNextTask(worker: "w3", kinds: ["other"], cached: [], policy: policy))

    // The lease expires; the task goes out again with the next epoch.
    XCTAssertEqual(try store.endLease(taskID: second.taskID, epoch: second.epoch, worker: "w2", loss: .expired,
                                      detail: "silent", policy: policy), .requeued(blocklisted: false))
    let again = try XCTUnwrap(store.leaseNextTask(worker: "w3", kinds: ["k"], cached: [], policy: policy))
    XCTAssertEqual(again.taskID, second.taskID)
    XCTAssertEqual(again.epoch, second.epoch + 1)
    // The old holder's result is stale; the new one's is accepted, and re-delivery is a duplicate.
    guard case .stale = try store.complete(taskID: second.taskID, epoch: second.epoch, worker: "w2", outputs: [],
                                           metrics: [], seconds: 0) else { return XCTFail("stale result accepted") }
    XCTAssertEqual(try store.complete(taskID: again.taskID, epoch: again.epoch, worker: "w3", outputs: [], metrics: [], seconds: 0),
                   .accepted(finishedJob: nil))
    XCTAssertEqual(try store.complete(taskID: again.taskID, epoch: again.epoch, worker: "w3", outputs: [], metrics: [], seconds: 0),
                   .duplicate)
    XCTAssertEqual(try store.events(kind: "stale-result").count, 1)
    XCTAssertEqual(try store.status(jobID: low).tasksDone, 1)
  }

  /// Tasks that prefer a GPU go to workers with GPUs first and to workers without last; a
  /// worker without GPUs still takes one when nothing else is ready.
  func testTasksThatPreferAGPUGoToGPUWorkersFirst() throws {
    let folder = TemporaryFolder("store-gpu")
    let store = try makeStore(folder)
    var heavy = task("optimize")
    heavy.preferGpu = true
    _ = try store.submit(.with { $0.name = "job"; $0.tasks = [task("merge"), heavy, task("composite")] }, inputs: [])
    XCTAssertEqual(try store.leaseNextTask(worker: "gpu", kinds: ["k"], cached: [], policy: policy, hasGPU: true)?.key, "optimize")
    XCTAssertEqual(try store.leaseNextTask(worker: "cpu", kinds: ["k"], cached: [], policy: policy)?.key, "merge")

    let otherFolder = TemporaryFolder("store-gpu-2")
    let other = try makeStore(otherFolder)
    _ = try other.submit(.with { $0.name = "job"; $0.tasks = [heavy, task("merge")] }, inputs: [])
    XCTAssertEqual(try other.leaseNextTask(worker: "cpu", kinds: ["k"], cached: [], policy: policy)?.key, "merge")
    XCTAssertEqual(try other.leaseNextTask(worker: "cpu2", kinds: ["k"], cached: [], policy: policy)?.key, "optimize",
                   "with nothing else ready, a worker without GPUs takes it")
  }

  /// The lease query reads ready tasks in index order (no sort of every ready task per lease:
  /// that cut tiny-task throughput to a third).
  func testTheLeaseQueryReadsReadyTasksInIndexOrder() throws {
    let folder = TemporaryFolder("store-plan")
    let store = try makeStore(folder)
    for hasGPU in [false, true] {
      let plan = try store.read { db in
        try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + JobStore.leaseQuery(kinds: 2, hasGPU: hasGPU),
                         arguments: ["k", "l", "w", 3]).map { $0["detail"] as String }
      }
      XCTAssertFalse(plan.contains { $0.contains("TEMP B-TREE FOR ORDER BY") }, "hasGPU \(hasGPU): \(plan)")
      XCTAssertTrue(plan.contains { $0.contains(hasGPU ? "tasks_ready_gpu" : "tasks_ready_cpu") }, "hasGPU \(hasGPU): \(plan)")
    }
  }

  func testDependenciesReleaseTasksAndPassOutputs() throws {
    let folder = TemporaryFolder("store")
    let store = try makeStore(folder)
    let input = StoredInput(name: "clip", sha256: String(repeating: "a", count: 64), size: 10)
    let job = try store.submit(.with {
      $0.inputs = [.with { $0.name = "clip" }]
      $0.tasks = [
        task("prepare", inputs: [.with { $0.name = "video"; $0.jobInput = "clip" }]),
        task("encode", dependsOn: ["prepare"], inputs: [.with { $0.name = "frames"; $0.task = "prepare"; $0.output = "out" }]),
      ]
    }, inputs: [input])
    let prepare = try XCTUnwrap(store.leaseNextTask(worker: "w", kinds: ["k"], cached: [], policy: policy))
    XCTAssertEqual(prepare.inputs, [StoredInput(name: "video", sha256: input.sha256, size: 10)])
    XCTAssertNil(try store.leaseNextTask(worker: "w2", kinds: ["k"], cached: [], policy: policy), "encode must wait")
    let out = StoredInput(name: "out", sha256: String(repeating: "b", count: 64), size: 5)
    _ = try store.complete(taskID: prepare.taskID, epoch: prepare.epoch, worker: "w", outputs: [out], metrics: [], seconds: 1)
    let encode = try XCTUnwrap(store.leaseNextTask(worker: "w2", kinds: ["k"], cached: [], policy: policy))
    XCTAssertEqual(encode.key, "encode")
    XCTAssertEqual(encode.inputs, [StoredInput(name: "frames", sha256: out.sha256, size: 5)])
    XCTAssertEqual(try store.complete(taskID: encode.taskID, epoch: encode.epoch, worker: "w2", outputs: [], metrics: [], seconds: 1),
                   .accepted(finishedJob: job))
    XCTAssertEqual(try store.status(jobID: job).state, "done")
  }

  func testThreeFailuresFailTheJobAndBlocklistTheWorker() throws {
    let folder = TemporaryFolder("store")
    let store = try makeStore(folder)
    let job = try store.submit(.with { $0.tasks = [task("bad"), task("good")] }, inputs: [])
    var outcomes: [FailureOutcome] = []
    var cancelled: [LeaseRef] = []
    for attempt in 1...3 {
      let lease = try XCTUnwrap(store.leaseNextTask(worker: "w1", kinds: ["k"], cached: [], policy: policy))
      XCTAssertEqual(lease.key, "bad", "attempt \(attempt)")
      if attempt == 3 {
        // Another worker holds the job's other task when it fails: that lease is cancelled.
        let other = try XCTUnwrap(store.leaseNextTask(worker: "w2", kinds: ["k"], cached: [], policy: policy))
        cancelled = [LeaseRef(taskID: other.taskID, epoch: other.epoch, worker: "w2")]
      }
      outcomes.append(try store.fail(taskID: lease.taskID, epoch: lease.epoch, worker: "w1", error: "boom \(attempt)",
                                     retryable: true, policy: policy))
    }
    XCTAssertEqual(outcomes[0], .requeued(blocklisted: false))
    XCTAssertEqual(outcomes[1], .requeued(blocklisted: false))
    XCTAssertEqual(outcomes[2], .jobFailed(jobID: job, cancelled: cancelled, blocklisted: true))
    let status = try store.status(jobID: job)
    XCTAssertEqual(status.state, "failed")
    XCTAssertTrue(status.error.contains("task bad failed on worker w1 after 3 attempts: boom 3"), status.error)
    XCTAssertEqual(status.tasks.first { $0.key == "bad" }?.error, "boom 3")
    XCTAssertEqual(try store.blocklistedWorkers(jobID: job, threshold: 3), ["w1"])
    XCTAssertNil(try store.leaseNextTask(worker: "w2", kinds: ["k"], cached: [], policy: policy), "a failed job hands out nothing")

    // Resume requeues the failed and cancelled tasks and clears the blocklist.
    XCTAssertEqual(try store.resume(jobID: job), 2)
    XCTAssertEqual(try store.status(jobID: job).state, "running")
    XCTAssertNotNil(try store.leaseNextTask(worker: "w1", kinds: ["k"], cached: [], policy: policy))
  }

  func testBlocklistedWorkerGetsNoTaskOfThatJob() throws {
    let folder = TemporaryFolder("store")
    let store = try makeStore(folder)
    let lenient = FailurePolicy(maxTaskFailures: 10, blocklistAfter: 3)
    let job = try store.submit(.with { $0.tasks = (0..<5).map { task("t\($0)") } }, inputs: [])
    for _ in 0..<3 {
      let lease = try XCTUnwrap(store.leaseNextTask(worker: "w1", kinds: ["k"], cached: [], policy: lenient))
      _ = try store.fail(taskID: lease.taskID, epoch: lease.epoch, worker: "w1", error: "x", retryable: true, policy: lenient)
    }
    XCTAssertEqual(try store.blocklistedJobs(worker: "w1", threshold: 3), [job])
    XCTAssertNil(try store.leaseNextTask(worker: "w1", kinds: ["k"], cached: [], policy: lenient))
    XCTAssertNotNil(try store.leaseNextTask(worker: "w2", kinds: ["k"], cached: [], policy: lenient))
  }

  func testStatePersistsAcrossReopen() throws {
    let folder = TemporaryFolder("store")
    var lease: LeaseGrant
    let job: String
    do {
      let store = try makeStore(folder)
      job = try store.submit(.with { $0.tasks = [task("a"), task("b")] }, inputs: [])
      lease = try XCTUnwrap(store.leaseNextTask(worker: "w", kinds: ["k"], cached: [], policy: policy))
      _ = try store.complete(taskID: lease.taskID, epoch: lease.epoch, worker: "w", outputs: [], metrics: [], seconds: 0)
      lease = try XCTUnwrap(store.leaseNextTask(worker: "w", kinds: ["k"], cached: [], policy: policy))
    }
    let reopened = try makeStore(folder)
    XCTAssertEqual(try reopened.activeLeases(), [LeaseRef(taskID: lease.taskID, epoch: lease.epoch, worker: "w")])
    XCTAssertEqual(try reopened.status(jobID: job).tasksDone, 1)
    XCTAssertNil(try reopened.leaseNextTask(worker: "w2", kinds: ["k"], cached: [], policy: policy), "done task never rerun")
  }

  func testAWorkerGetsTheTaskWhoseInputsItCaches() throws {
    let folder = TemporaryFolder("store")
    let store = try makeStore(folder)
    let a = StoredInput(name: "a", sha256: String(repeating: "a", count: 64), size: 1000)
    let b = StoredInput(name: "b", sha256: String(repeating: "b", count: 64), size: 1000)
    _ = try store.submit(.with {
      $0.inputs = [.with { $0.name = "a" }, .with { $0.name = "b" }]
      $0.tasks = [
        task("needs-a", inputs: [.with { $0.name = "x"; $0.jobInput = "a" }]),
        task("needs-b", inputs: [.with { $0.name = "x"; $0.jobInput = "b" }]),
      ]
    }, inputs: [a, b])
    XCTAssertEqual(try store.leaseNextTask(worker: "has-b", kinds: ["k"], cached: [b.sha256], policy: policy)?.key, "needs-b")
    XCTAssertEqual(try store.leaseNextTask(worker: "has-none", kinds: ["k"], cached: [], policy: policy)?.key, "needs-a")
  }

  func testSmallBlobsCommitWithTheirResultAndSurviveReopening() throws {
    let folder = TemporaryFolder("store")
    let bytes = Data("1042".utf8)
    let hash = BlobHasher.hex(of: bytes)
    let empty = BlobHasher.hex(of: Data())
    let job: String
    do {
      let store = try makeStore(folder)
      job = try store.submit(.with { $0.tasks = [task("a")] }, inputs: [])
      let lease = try XCTUnwrap(store.leaseNextTask(worker: "w", kinds: ["k"], cached: [], policy: policy))
      // A stale result stores nothing, its bytes included.
      guard case .stale = try store.complete(taskID: lease.taskID, epoch: lease.epoch + 1, worker: "w", outputs: [],
                                             smallBlobs: [hash: bytes], metrics: [], seconds: 0) else { return XCTFail() }
      XCTAssertNil(try store.smallBlob(hash))
      let outputs = [StoredInput(name: "sum", sha256: hash, size: 4), StoredInput(name: "none", sha256: empty, size: 0)]
      XCTAssertEqual(try store.complete(taskID: lease.taskID, epoch: lease.epoch, worker: "w", outputs: outputs,
                                        smallBlobs: [hash: bytes, empty: Data()], metrics: [], seconds: 0),
                     .accepted(finishedJob: job))
    }
    // A reopened store (a restarted coordinator) serves them by hash, through the artifact API too.
    let reopened = try makeStore(folder)
    XCTAssertEqual(try reopened.smallBlob(hash), bytes)
    XCTAssertEqual(try reopened.smallBlobSize(hash), 4)
    XCTAssertEqual(try reopened.smallBlob(empty), Data())
    XCTAssertEqual(try reopened.smallBlobSize(empty), 0)
    XCTAssertNil(try reopened.smallBlobSize(String(repeating: "c", count: 64)))
    let artifacts = ArtifactStore(blobs: try BlobStore(root: folder.url.appendingPathComponent("blobs")), store: reopened)
    XCTAssertEqual(try artifacts.data(for: hash), bytes)
    XCTAssertEqual(artifacts.size(of: hash), 4)
    XCTAssertTrue(artifacts.blobs.allBlobs().isEmpty, "small outputs make no files")
    let target = folder.url.appendingPathComponent("exported")
    try artifacts.export(hash, to: target)
    XCTAssertEqual(try Data(contentsOf: target), bytes)
    XCTAssertEqual(try reopened.outputs(jobID: job).map(\.sha256).sorted(), [hash, empty].sorted())
  }

  func testABatchCommitsOnceAndAFailedChangeRollsBackAlone() throws {
    let folder = TemporaryFolder("store")
    let store = try makeStore(folder)
    let job = try store.submit(.with { $0.tasks = [task("a"), task("b")] }, inputs: [])
    // Another connection stands for what survives a crash: it sees only committed state.
    let observer = try makeStore(folder)
    var first: LeaseGrant?
    try store.batch {
      first = try store.leaseNextTask(worker: "w1", kinds: ["k"], cached: [], policy: policy)
      XCTAssertThrowsError(try store.cancel(jobID: "no-such-job"))
      _ = try store.leaseNextTask(worker: "w2", kinds: ["k"], cached: [], policy: policy)
      // Inside the batch the store reads its own changes; nothing is committed yet.
      XCTAssertEqual(try store.activeLeases().count, 2)
      XCTAssertEqual(try observer.activeLeases(), [])
    }
    XCTAssertEqual(try observer.activeLeases().count, 2)
    let lease = try XCTUnwrap(first)
    // A change that fails inside a batch leaves the batch's other changes to commit.
    try store.batch {
      XCTAssertThrowsError(try store.write { db in
        try db.execute(sql: "UPDATE jobs SET name = 'changed'")
        throw FarmError.database("forced")
      })
      XCTAssertEqual(try store.complete(taskID: lease.taskID, epoch: lease.epoch, worker: "w1", outputs: [],
                                        metrics: [], seconds: 0), .accepted(finishedJob: nil))
    }
    XCTAssertEqual(try observer.status(jobID: job).tasksDone, 1)
    XCTAssertEqual(try observer.status(jobID: job).name, job, "the failed change was rolled back")
  }
}
