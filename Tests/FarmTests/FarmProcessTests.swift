import Farm
import Foundation
import TestSupport
import XCTest

/// The failure model, with coordinator and workers as separate `redub` processes on loopback.
final class FarmProcessTests: XCTestCase {
  func testKilledWorkersTaskIsRequeuedAndTheResultMatchesAnUndisturbedRun() throws {
    let farm = ProcessFarm()
    try farm.startCoordinator()
    let victim = try farm.startWorker("victim")
    let client = try farm.client()
    let job = try client.submit(sumJob("kill-worker", count: 4, steps: 10, stepMilliseconds: 60))
    // Wait until the victim runs a task, then kill it mid-task.
    var victimTask = ""
    XCTAssertTrue(try eventually(20) {
      victimTask = try client.status(job).tasks.first { $0.state == "leased" && $0.worker == "victim" && $0.iteration >= 2 }?.key ?? ""
      return !victimTask.isEmpty
    })
    victim.signal(SIGKILL)
    try farm.startWorker("survivor")
    let status = try client.wait(job, limit: .seconds(60))
    XCTAssertEqual(status.state, "done", status.error)
    XCTAssertEqual(try farm.sums(job), expectedSums(count: 4))
    let history = try JobStore(path: farm.state.appendingPathComponent("farm.sqlite")).leaseHistory(jobID: job)
    let attempts = history.filter { $0.key == victimTask }
    XCTAssertEqual(attempts.first?.worker, "victim")
    XCTAssertEqual(attempts.first?.outcome, "expired")
    XCTAssertEqual(attempts.last?.worker, "survivor")
    XCTAssertEqual(attempts.last?.outcome, "done")
    XCTAssertEqual(farm.starts(of: victimTask), 2)
    XCTAssertEqual(try client.status(job, allTasks: true).tasks.map(\.attempts), [0, 0, 0, 0], "an expiry is not a failure")
  }

  func testKilledCoordinatorResumesAndNoCommittedTaskRunsAgain() throws {
    let farm = ProcessFarm()
    try farm.startCoordinator()
    try farm.startWorker("w1")
    try farm.startWorker("w2")
    let count = 16
    var client = try farm.client()
    let job = try client.submit(sumJob("kill-coordinator", count: count, steps: 4, stepMilliseconds: 40))
    XCTAssertTrue(try eventually(30) { try client.status(job).tasksDone >= 5 })
    farm.coordinator!.signal(SIGKILL)
    XCTAssertNotNil(farm.coordinator!.waitForExit(10))
    let finishedBeforeKill = Set(farm.executions.filter { $0.event == "done" }.map(\.key))
    let committed = try JobStore(path: farm.state.appendingPathComponent("farm.sqlite")).status(jobID: job, allTasks: true)
      .tasks.filter { $0.state == "done" }.map(\.key)
    XCTAssertGreaterThanOrEqual(committed.count, 5)
    usleep(600_000)  // the workers notice the silence and start reconnecting
    try farm.startCoordinator()
    client = try farm.client()
    let status = try client.wait(job, limit: .seconds(60))
    XCTAssertEqual(status.state, "done", status.error)
    XCTAssertEqual(try farm.sums(job), expectedSums(count: count))
    for key in committed { XCTAssertEqual(farm.starts(of: key), 1, "committed task \(key) ran again") }
    for key in finishedBeforeKill { XCTAssertEqual(farm.starts(of: key), 1, "finished task \(key) was lost and ran again") }
  }

  func testRestartedWorkerDeliversTheResultItKeptOnDisk() throws {
    let farm = ProcessFarm()
    try farm.startCoordinator()
    let first = try farm.startWorker("keeper")
    var client = try farm.client()
    let job = try client.submit(sumJob("kept-result", count: 1, steps: 10, stepMilliseconds: 80))
    XCTAssertTrue(try eventually(20) { try client.status(job).tasks.contains { $0.state == "leased" && $0.iteration >= 2 } })
    // The coordinator dies; the worker finishes the task and keeps the unacknowledged result...
    farm.coordinator!.signal(SIGKILL)
    XCTAssertNotNil(farm.coordinator!.waitForExit(10))
    let log = farm.folder.url.appendingPathComponent("cache-keeper/pending/results.log")
    func logSize() -> Int { ((try? FileManager.default.attributesOfItem(atPath: log.path))?[.size] as? NSNumber)?.intValue ?? -1 }
    XCTAssertTrue(eventually(20) { logSize() > 0 })
    // ...then dies too, so the result lives only in its pending log.
    first.signal(SIGKILL)
    XCTAssertNotNil(first.waitForExit(10))
    let second = try farm.startWorker("keeper")
    XCTAssertTrue(eventually(20) { second.log.contains("holding the unacknowledged result of task") }, second.log)
    // A long liveness keeps the restarted coordinator waiting for the lease's worker.
    try farm.startCoordinator(extra: ["--liveness", "20"])
    client = try farm.client()
    let status = try client.wait(job, limit: .seconds(60))
    XCTAssertEqual(status.state, "done", status.error)
    XCTAssertEqual(try farm.sums(job), expectedSums(count: 1))
    XCTAssertEqual(farm.starts(of: "task-0000"), 1, "the kept result was delivered, not computed again")
    XCTAssertTrue(eventually(5) { logSize() == 0 }, "an acknowledged result leaves the log")
  }

  func testStoppedWorkersStaleWorkIsRefused() throws {
    let farm = ProcessFarm()
    try farm.startCoordinator()
    let sleeper = try farm.startWorker("sleeper")
    let client = try farm.client()
    // One long step, so the task finishes the moment the stopped worker continues.
    let job = try client.submit(sumJob("stop-worker", count: 1, steps: 1, stepMilliseconds: 1500))
    XCTAssertTrue(try eventually(20) { try client.status(job).tasks.first?.worker == "sleeper" })
    usleep(200_000)
    sleeper.signal(SIGSTOP)
    try farm.startWorker("awake")
    // The lease lapses after 4 silent heartbeats and the task runs on the other worker.
    XCTAssertTrue(try eventually(20) { try client.status(job).tasks.first.map { $0.worker == "awake" && $0.epoch == 2 } ?? false })
    usleep(1_500_000)
    sleeper.signal(SIGCONT)
    XCTAssertEqual(try client.wait(job, limit: .seconds(30)).state, "done")
    let store = try JobStore(path: farm.state.appendingPathComponent("farm.sqlite"))
    let refused = try eventually(10) {
      try !store.events().filter { $0.worker == "sleeper" && $0.kind.hasPrefix("stale-") }.isEmpty
    }
    let events = try store.events().map { "\($0.kind): \($0.message)" }
    XCTAssertTrue(refused, "the stopped worker's epoch-1 work was not refused: \(events)")
    let history = try store.leaseHistory(jobID: job)
    XCTAssertEqual(history.map(\.worker), ["sleeper", "awake"])
    XCTAssertEqual(history.map(\.outcome), ["expired", "done"])
    XCTAssertEqual(try farm.sums(job), ["task-0000": "1000"])
  }

  /// SIGTERM (what Slurm and Kubernetes send at the end) and SIGUSR1 (Slurm's warning before a
  /// time limit, `--signal=USR1@...`) drain a worker alike: two workers hold a task each, one
  /// gets each signal, both hand their task back without a failure and exit 0.
  func testDrainedWorkersHandBackTheirTasksWithoutAFailureAndExitZeroOnSIGTERMAndSIGUSR1() throws {
    let farm = ProcessFarm()
    try farm.startCoordinator()
    let signals: [(name: String, number: Int32)] = [("leaving-term", SIGTERM), ("leaving-usr1", SIGUSR1)]
    let leaving = try signals.map { try farm.startWorker($0.name) }
    let client = try farm.client()
    let job = try client.submit(sumJob("drain", count: 2, steps: 20, stepMilliseconds: 50))
    XCTAssertTrue(try eventually(20) {
      let running = try client.status(job).tasks.filter { $0.iteration >= 1 }.map(\.worker)
      return Set(running) == Set(signals.map(\.name))
    }, "each worker should hold one task")
    let held = Dictionary(uniqueKeysWithValues: try client.status(job).tasks.map { ($0.worker, $0.key) })
    for (worker, signal) in zip(leaving, signals) { worker.signal(signal.number) }
    for (worker, signal) in zip(leaving, signals) {
      XCTAssertEqual(worker.waitForExit(10), 0, "\(signal.name): \(worker.log)")
      XCTAssertTrue(worker.log.contains("signal \(signal.number): draining"), worker.log)
    }
    try farm.startWorker("staying")
    XCTAssertEqual(try client.wait(job, limit: .seconds(60)).state, "done")
    XCTAssertEqual(try farm.sums(job), expectedSums(count: 2))
    let store = try JobStore(path: farm.state.appendingPathComponent("farm.sqlite"))
    let history = try store.leaseHistory(jobID: job)
    for signal in signals {
      let leases = history.filter { $0.worker == signal.name }
      XCTAssertEqual(leases.map(\.key), [held[signal.name]].compactMap { $0 }, "\(signal.name) held one lease")
      XCTAssertEqual(leases.map(\.outcome), ["handed-back"], signal.name)
      XCTAssertEqual(farm.starts(of: held[signal.name] ?? ""), 2, "handed back, then run by the staying worker")
    }
    XCTAssertEqual(history.filter { $0.outcome == "done" }.map(\.worker), ["staying", "staying"])
    XCTAssertEqual(try client.status(job, allTasks: true).tasks.map(\.attempts), [0, 0], "a drain is not a failure")
    XCTAssertTrue(try store.blocklistedWorkers(jobID: job, threshold: 1).isEmpty)
  }

  func testLargeBlobCrossesTheBulkSocketResumably() throws {
    let farm = ProcessFarm()
    try farm.startCoordinator()
    #if DEBUG
    // A debug build hashes some 50 times slower; the release suite (scripts/test.sh) moves 200 MB.
    let size = 24_000_000
    let limit = "10"
    #else
    let size = 200_000_000
    let limit = "100"
    #endif
    let data = DiagnosticTasks.pseudoRandomBytes(count: size, seed: 42)
    let hash = BlobHasher.hex(of: data)
    try data.write(to: farm.folder.url.appendingPathComponent("big.bin"))
    var spec = makeJob("big", count: 1, kind: HashTask.kind) { _ in Data() }
    spec.inputs = [.with { $0.name = "big"; $0.path = "big.bin" }]
    spec.tasks[0].inputs = [.with { $0.name = "data"; $0.jobInput = "big" }]
    let client = try farm.client()
    let job = try client.submit(spec)
    // A worker with a download rate limit is killed once a quarter of the blob has arrived.
    let first = try farm.startWorker("fetcher", extra: ["--download-limit-mbps", limit])
    let partial = farm.folder.url.appendingPathComponent("cache-fetcher/blobs/partial/\(hash)")
    XCTAssertTrue(eventually(30) {
      ((try? FileManager.default.attributesOfItem(atPath: partial.path))?[.size] as? NSNumber)?.intValue ?? 0 > size / 4
    })
    first.signal(SIGKILL)
    XCTAssertNotNil(first.waitForExit(10))
    let kept = ((try FileManager.default.attributesOfItem(atPath: partial.path))[.size] as? NSNumber)!.intValue
    XCTAssertGreaterThan(kept, size / 4)
    XCTAssertLessThan(kept, size)
    // The same worker (same cache and id) starts again and resumes from what it kept.
    let second = try farm.startWorker("fetcher")
    let status = try client.wait(job, limit: .seconds(90))
    XCTAssertEqual(status.state, "done", status.error)
    let result = try XCTUnwrap(client.status(job, allTasks: true).tasks.first?.outputs.first)
    let artifacts = ArtifactStore(blobs: try BlobStore(root: farm.state.appendingPathComponent("blobs")),
                                  store: try JobStore(path: farm.state.appendingPathComponent("farm.sqlite")))
    let stored = try artifacts.data(for: result.sha256)
    XCTAssertEqual(String(decoding: stored, as: UTF8.self), hash)
    XCTAssertTrue(second.log.contains("resuming download of \(hash.prefix(12)) from offset"), second.log)
    XCTAssertTrue(farm.coordinator!.log.contains("resuming \(hash.prefix(12))"), farm.coordinator!.log)
    XCTAssertFalse(FileManager.default.fileExists(atPath: partial.path))
  }

  /// `redub watch` against a running farm: it starts before any worker (everything waiting),
  /// follows the tasks as a worker runs them (bars, running counts, ETA) and exits 0 when the
  /// job is done, with every stage complete.
  func testWatchFollowsAJobToTheEndAndExitsZero() throws {
    let farm = ProcessFarm()
    try farm.startCoordinator()
    var spec = sumJob("watched", count: 5, steps: 6, stepMilliseconds: 50)
    for index in spec.tasks.indices { spec.tasks[index].stage = index < 2 ? "prepare" : "optimize" }
    let client = try farm.client()
    let job = try client.submit(spec)
    let watch = try FarmProcess("watch", ["watch", job, "--coordinator", farm.control, "--interval", "0.05"], folder: farm.folder.url)
    XCTAssertTrue(eventually(20) { watch.log.contains("waiting 3") }, watch.log)
    try farm.startWorker("w1")
    XCTAssertEqual(watch.waitForExit(60), 0, watch.log)
    let lines = watch.log.split(separator: "\n").map(String.init)
    func stageLines(_ stage: String) -> [String] { lines.filter { $0.hasPrefix("  \(stage) ") } }
    // The first view: nothing started.
    XCTAssertEqual(lines.first, "job \(job) (watched): running, 0/5 tasks", watch.log)
    XCTAssertTrue(stageLines("prepare").first?.hasSuffix("  0%  done 0  running 0  waiting 2  failed 0") ?? false, watch.log)
    XCTAssertTrue(stageLines("optimize").first?.hasSuffix("  0%  done 0  running 0  waiting 3  failed 0") ?? false, watch.log)
    // On the way: a task running with its ETA, a bar partly filled.
    let running = lines.filter { $0.contains("running 1") }
    XCTAssertFalse(running.isEmpty, watch.log)
    XCTAssertTrue(running.contains { $0.contains("ETA ") }, watch.log)
    XCTAssertTrue(lines.contains { $0.contains("█") && $0.contains("·") }, watch.log)
    XCTAssertTrue(lines.contains { $0.contains("optimize") && $0.contains("done 1 ") }, "windows done one by one: \(watch.log)")
    // Running tasks' loss terms (diag.sum reports its step as one) under their stage.
    XCTAssertTrue(lines.contains { $0.hasPrefix("    ") && $0.contains("/6  step ") }, watch.log)
    // The last view: the job done, every stage full.
    let bar = String(repeating: "█", count: 30)
    XCTAssertEqual(lines.filter { $0.hasPrefix("job ") }.last, "job \(job) (watched): done, 5/5 tasks", watch.log)
    XCTAssertEqual(stageLines("prepare").last, "  prepare      \(bar) 100%  done 2  running 0  waiting 0  failed 0", watch.log)
    XCTAssertEqual(stageLines("optimize").last, "  optimize     \(bar) 100%  done 3  running 0  waiting 0  failed 0", watch.log)
    XCTAssertFalse(watch.log.contains("error"), watch.log)
    XCTAssertFalse(watch.log.contains("\u{1B}["), "no terminal codes when the output is not a terminal")
  }

  /// `redub watch` on a job whose task always fails: exit 1, the failed task counted and the
  /// job's error shown.
  func testWatchShowsAFailedJobsErrorAndExitsOne() throws {
    let farm = ProcessFarm()
    try farm.startCoordinator()
    try farm.startWorker("w1")
    var spec = makeJob("doomed", count: 1, kind: FailTask.kind) { _ in Data(#"{"message": "the model file is corrupt"}"#.utf8) }
    spec.tasks[0].stage = "tune"
    let client = try farm.client()
    let job = try client.submit(spec)
    let watch = try FarmProcess("watch", ["watch", job, "--coordinator", farm.control, "--interval", "0.05"], folder: farm.folder.url)
    XCTAssertEqual(watch.waitForExit(60), 1, watch.log)
    let lines = watch.log.split(separator: "\n").map(String.init)
    XCTAssertEqual(lines.filter { $0.hasPrefix("job ") }.last, "job \(job) (doomed): failed, 0/1 tasks", watch.log)
    XCTAssertTrue(lines.last { $0.hasPrefix("  tune ") }?.hasSuffix("  0%  done 0  running 0  waiting 0  failed 1") ?? false, watch.log)
    let error = try XCTUnwrap(lines.last, watch.log)
    XCTAssertTrue(error.hasPrefix("  error: "), watch.log)
    XCTAssertTrue(error.contains("after 3 attempts: the model file is corrupt"), watch.log)
    // A job that does not exist is an error too, and so is a non-positive interval.
    let unknown = try FarmProcess("watch", ["watch", "nope", "--coordinator", farm.control], folder: farm.folder.url)
    XCTAssertNotEqual(unknown.waitForExit(30), 0, unknown.log)
    XCTAssertTrue(unknown.log.contains("no job 'nope'"), unknown.log)
    let badInterval = try FarmProcess("watch", ["watch", job, "--coordinator", farm.control, "--interval", "0"], folder: farm.folder.url)
    XCTAssertEqual(badInterval.waitForExit(30), 64, badInterval.log)
    XCTAssertTrue(badInterval.log.contains("--interval must be positive"), badInterval.log)
  }

  /// Without --keys the coordinator serves loopback only: asked for `tcp://*:PORT` (every
  /// interface) it says so, binds 127.0.0.1:PORT, and nothing listens on PORT on any other
  /// address (the kernel's socket table is checked, and a connection to another address of this
  /// machine, when it has one, is refused).
  func testCoordinatorWithoutKeysBindsLoopbackOnly() throws {
    let folder = TemporaryFolder("loopback")
    let port = try freeTCPPort()
    let coordinator = try FarmProcess("coordinator", [
      "coordinator", "--state", folder.url.appendingPathComponent("state").path, "--control", "tcp://*:\(port)",
      "--bulk", "tcp://0.0.0.0:*", "--data-root", folder.url.path, "--heartbeat-ms", "100",
    ], folder: folder.url)
    XCTAssertTrue(eventually(30) { coordinator.log.contains("coordinator: control ") }, coordinator.log)
    XCTAssertTrue(coordinator.log.contains(
      "no --keys: binding to loopback only (tcp://127.0.0.1:\(port), tcp://127.0.0.1:*); create keys with `redub keys generate` to serve other hosts"),
      coordinator.log)
    let line = try XCTUnwrap(coordinator.log.split(separator: "\n").first { $0.hasPrefix("coordinator: control ") }, coordinator.log)
    let endpoints = line.split(separator: " ").map(String.init)  // coordinator: control E, bulk E, state DIR
    XCTAssertEqual(endpoints[2], "tcp://127.0.0.1:\(port),", String(line))
    XCTAssertTrue(endpoints[4].hasPrefix("tcp://127.0.0.1:"), String(line))
    let bulkPort = try XCTUnwrap(Int(endpoints[4].dropFirst("tcp://127.0.0.1:".count).dropLast()), String(line))
    for listening in [port, bulkPort] {
      XCTAssertEqual(listeners(port: listening), ["127.0.0.1"], "port \(listening)")
      for address in nonLoopbackIPv4Addresses() {
        XCTAssertFalse(canConnect(address, port: listening), "port \(listening) answers on \(address)")
      }
      XCTAssertTrue(canConnect("127.0.0.1", port: listening))
    }
    // And it serves there.
    let client = try FarmClient(coordinator: "tcp://127.0.0.1:\(port)", timeout: .seconds(5))
    XCTAssertEqual(try client.jobs().count, 0)
  }

  /// What the coordinator makes of endpoints without keys: every non-loopback host becomes
  /// 127.0.0.1; loopback hosts and non-tcp transports stay as given. With keys nothing changes.
  func testEndpointsWithoutKeysAreMovedToLoopback() throws {
    let folder = TemporaryFolder("loopback-endpoints")
    func bound(_ endpoint: String, keys: URL? = nil) throws -> String {
      var configuration = CoordinatorConfiguration(stateDirectory: folder.url.appendingPathComponent("state"), dataRoot: folder.url)
      configuration.controlEndpoint = endpoint
      configuration.keysDirectory = keys
      configuration.logger = FarmHarness.quietLogger
      return try Coordinator(configuration: configuration).configuration.controlEndpoint
    }
    for (asked, expected) in [
      ("tcp://*:5555", "tcp://127.0.0.1:5555"), ("tcp://*:*", "tcp://127.0.0.1:*"), ("tcp://0.0.0.0:7000", "tcp://127.0.0.1:7000"),
      ("tcp://eth0:5555", "tcp://127.0.0.1:5555"), ("tcp://[::]:5555", "tcp://127.0.0.1:5555"),
      ("tcp://192.168.1.20:5555", "tcp://127.0.0.1:5555"), ("tcp://127.example.com:5555", "tcp://127.0.0.1:5555"),
      ("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5555"), ("tcp://127.0.1.1:5555", "tcp://127.0.1.1:5555"),
      ("tcp://localhost:5555", "tcp://localhost:5555"), ("tcp://[::1]:5555", "tcp://[::1]:5555"),
      ("ipc:///tmp/redub.sock", "ipc:///tmp/redub.sock"),
    ] {
      XCTAssertEqual(try bound(asked), expected, asked)
    }
    let keys = folder.url.appendingPathComponent("keys")
    _ = try FarmKeys.generate(in: keys, role: .coordinator)
    XCTAssertEqual(try bound("tcp://*:5555", keys: keys), "tcp://*:5555")
  }

  func testClientCommandsDriveAFarm() throws {
    let farm = ProcessFarm()
    try farm.startCoordinator()
    try farm.startWorker("w1")
    func redub(_ arguments: [String]) throws -> (status: Int32, output: String) {
      let process = try FarmProcess("client", arguments + ["--coordinator", farm.control], folder: farm.folder.url)
      guard let status = process.waitForExit(30) else { return (-1, process.log) }
      return (status, process.log)
    }
    let submitted = try redub(["submit", "--diagnostic", "sum", "--tasks", "3", "--steps", "2", "--step-ms", "20"])
    XCTAssertEqual(submitted.status, 0, submitted.output)
    let job = submitted.output.trimmingCharacters(in: .whitespacesAndNewlines)
    let waited = try redub(["wait", job, "--limit", "30"])
    XCTAssertEqual(waited.status, 0, waited.output)
    XCTAssertTrue(waited.output.contains("done"), waited.output)
    let status = try redub(["status", job, "--json"])
    XCTAssertTrue(status.output.contains("\"tasksDone\":3"), status.output)
    let listed = try redub(["status"])
    XCTAssertTrue(listed.output.contains(job), listed.output)
    let workers = try redub(["workers"])
    XCTAssertTrue(workers.output.contains("w1 (w1): idle"), workers.output)
    // A job that grows from its first task and writes only its declared export.
    let fanout = try redub(["submit", "--diagnostic", "fanout", "--tasks", "4", "--steps", "1", "--step-ms", "0",
                            "--output-dir", "fanout-out"])
    XCTAssertEqual(fanout.status, 0, fanout.output)
    let fanoutJob = fanout.output.trimmingCharacters(in: .whitespacesAndNewlines)
    let fanoutWait = try redub(["wait", fanoutJob, "--limit", "30"])
    XCTAssertEqual(fanoutWait.status, 0, fanoutWait.output)
    XCTAssertTrue(try redub(["status", fanoutJob, "--json"]).output.contains("\"tasksDone\":6"))
    let gathered = farm.folder.url.appendingPathComponent("fanout-out/gathered-sum.txt")
    XCTAssertTrue(eventually(5) { FileManager.default.fileExists(atPath: gathered.path) })
    XCTAssertEqual(try String(contentsOf: gathered, encoding: .utf8), "22")  // 0+1+2+3 + 4·4
    let help = try redub(["submit", "--help"])
    XCTAssertTrue(help.output.contains("fanout"), help.output)
    let failing = try redub(["submit", "--diagnostic", "fail"])
    let failedJob = failing.output.trimmingCharacters(in: .whitespacesAndNewlines)
    let failedWait = try redub(["wait", failedJob, "--limit", "30"])
    XCTAssertEqual(failedWait.status, 1, failedWait.output)
    XCTAssertTrue(failedWait.output.contains("after 3 attempts: diagnostic failure"), failedWait.output)
    let resumed = try redub(["resume", failedJob])
    XCTAssertTrue(resumed.output.contains("1 tasks requeued"), resumed.output)
    let unknown = try redub(["status", "nope"])
    XCTAssertNotEqual(unknown.status, 0)
    XCTAssertTrue(unknown.output.contains("no job 'nope'"), unknown.output)
  }
}

// MARK: Sockets, for the loopback test

/// A TCP port nothing listens on now (the kernel's pick for port 0 on loopback).
func freeTCPPort() throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { throw FarmError.io("socket: \(errno)") }
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = 0
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let ok = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
    }
  }
  guard ok else { throw FarmError.io("bind: \(errno)") }
  return Int(UInt16(bigEndian: address.sin_port))
}

/// The local addresses of listening TCP sockets on `port`, from /proc/net/tcp and tcp6
/// ("0.0.0.0" or "::" for every interface).
func listeners(port: Int) -> [String] {
  var found: [String] = []
  for (file, v6) in [("/proc/net/tcp", false), ("/proc/net/tcp6", true)] {
    guard let table = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
    for row in table.split(separator: "\n").dropFirst() {
      let fields = row.split(separator: " ")
      guard fields.count > 3, fields[3] == "0A" else { continue }  // TCP_LISTEN
      let local = fields[1].split(separator: ":")
      guard local.count == 2, Int(local[1], radix: 16) == port else { continue }
      let hex = String(local[0])
      if v6 {
        found.append(hex == String(repeating: "0", count: 32) ? "::" : "v6:" + hex)
      } else if let value = UInt32(hex, radix: 16) {
        // The kernel prints the address as a host-order word of network-order bytes.
        let bytes = withUnsafeBytes(of: value.littleEndian) { Array($0) }
        found.append(bytes.map(String.init).joined(separator: "."))
      }
    }
  }
  return found
}

/// This machine's IPv4 addresses other than loopback.
func nonLoopbackIPv4Addresses() -> [String] {
  var list: UnsafeMutablePointer<ifaddrs>?
  guard getifaddrs(&list) == 0 else { return [] }
  defer { freeifaddrs(list) }
  var addresses: [String] = []
  var entry = list
  while let current = entry {
    defer { entry = current.pointee.ifa_next }
    guard let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
    let ip = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
    let host = UInt32(bigEndian: ip.s_addr)
    if host >> 24 == 127 { continue }
    addresses.append("\(host >> 24).\((host >> 16) & 255).\((host >> 8) & 255).\(host & 255)")
  }
  return addresses
}

/// Whether a TCP connection to address:port is accepted.
func canConnect(_ host: String, port: Int) -> Bool {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return false }
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr(host)
  address.sin_port = UInt16(port).bigEndian
  return withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
  }
}
