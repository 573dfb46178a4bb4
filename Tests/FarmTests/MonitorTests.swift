import Farm
import Foundation
import Synchronization
import TestSupport
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The coordinator's web monitor (`redub coordinator --http`) over real HTTP on loopback,
/// against a coordinator process running a job, and rendered by headless Chromium.
final class MonitorTests: XCTestCase {
  func testJSONEndpointsAndMetricsFollowARunningJob() throws {
    let farm = ProcessFarm()
    let monitor = try farm.startCoordinatorWithMonitor()
    let victim = try farm.startWorker("victim")
    let client = try farm.client()
    let job = try client.submit(sumJob("monitored", count: 4, steps: 20, stepMilliseconds: 100))

    // Readers hammer the page and /metrics for the whole job: the control loop must not
    // notice (no lease expires but the killed worker's).
    let hammering = Hammer(urls: ["\(monitor)/", "\(monitor)/metrics", "\(monitor)/api/workers"])
    defer { hammering.stop() }

    var running: Redub_V1_TaskStatus?
    XCTAssertTrue(try eventually(20) {
      running = try client.status(job).tasks.first { $0.state == "leased" && $0.iteration >= 2 }
      return running != nil
    })

    // /api/jobs: the job list `redub status --json` prints.
    let list = try json(httpGet("\(monitor)/api/jobs"))
    let jobs = try XCTUnwrap(list["jobs"] as? [[String: Any]])
    XCTAssertEqual(jobs.compactMap { $0["jobId"] as? String }, try client.jobs().map(\.jobID))
    XCTAssertEqual(jobs.first?["state"] as? String, "running")
    XCTAssertEqual(jobs.first?["name"] as? String, "monitored")

    // /api/jobs/JOB: stages, the running task with its live progress, as `redub status JOB --json`
    // (uint64 fields are strings in protobuf JSON, and zeros are left out).
    var status: [String: Any] = [:]
    var leased: [String: Any] = [:]
    XCTAssertTrue(try eventually(20) {
      status = try json(httpGet("\(monitor)/api/jobs/\(job)"))
      leased = (status["tasks"] as? [[String: Any]])?.first { $0["state"] as? String == "leased" && $0["total"] != nil } ?? [:]
      return !leased.isEmpty
    }, "\(status)")
    XCTAssertEqual(status["jobId"] as? String, job)
    let stages = try XCTUnwrap(status["stages"] as? [[String: Any]])
    XCTAssertEqual(stages.count, 1)
    XCTAssertEqual(stages.first?["total"] as? Int, 4)
    XCTAssertEqual(leased["worker"] as? String, "victim")
    XCTAssertEqual(leased["total"] as? String, "20")
    XCTAssertGreaterThanOrEqual(Int(leased["iteration"] as? String ?? "") ?? 0, 1)
    let all = try json(httpGet("\(monitor)/api/jobs/\(job)?all-tasks=1"))
    XCTAssertEqual((all["tasks"] as? [Any])?.count, 4)
    // Diagnostic tasks render nothing: no thumbnail, and a 404 that says so.
    XCTAssertNil(leased["thumbnailReady"])
    let thumbnail = try httpGet("\(monitor)/api/tasks/\(leased["taskId"] as? String ?? "")/thumbnail.png")
    XCTAssertEqual(thumbnail.status, 404)
    XCTAssertTrue(thumbnail.body.contains("has no thumbnail now"), thumbnail.body)
    let unknown = try httpGet("\(monitor)/api/jobs/no-such-job")
    XCTAssertEqual(unknown.status, 404)
    XCTAssertTrue(unknown.body.contains("unknown job"), unknown.body)

    // /api/workers: as `redub workers --json` (asked again while the worker is between two tasks).
    var workers: [[String: Any]] = []
    XCTAssertTrue(try eventually(20) {
      workers = try json(httpGet("\(monitor)/api/workers"))["workers"] as? [[String: Any]] ?? []
      return workers.first?["state"] as? String == "busy"
    }, "\(workers)")
    XCTAssertEqual(workers.map { $0["name"] as? String }, ["victim"])
    XCTAssertEqual(workers.first?["state"] as? String, "busy")
    XCTAssertEqual(workers.first?["jobId"] as? String, job)
    XCTAssertFalse((workers.first?["taskKey"] as? String ?? "").isEmpty)
    let heartbeat = try XCTUnwrap(workers.first?["lastHeartbeatUnix"] as? Double)
    XCTAssertLessThan(abs(Date().timeIntervalSince1970 - heartbeat), 2)

    // /metrics while it runs.
    var metrics = try Metrics(httpGet("\(monitor)/metrics"))
    XCTAssertTrue(try eventually(20) {
      metrics = try Metrics(httpGet("\(monitor)/metrics"))
      return metrics[#"redub_workers{state="busy"}"#] == 1
    })
    let counts = ["queued", "running", "done", "failed", "cancelled"].map { metrics["redub_tasks{state=\"\($0)\"}"] ?? -1 }
    XCTAssertEqual(counts.reduce(0, +), 4, "\(counts)")
    XCTAssertLessThanOrEqual(counts[1], 1)
    XCTAssertEqual(counts[3] + counts[4], 0)
    XCTAssertEqual(metrics[#"redub_jobs{state="running"}"#], 1)
    XCTAssertEqual(metrics[#"redub_workers{state="busy"}"#], 1)
    XCTAssertLessThan(try XCTUnwrap(metrics[#"redub_worker_heartbeat_age_seconds{worker="victim",name="victim"}"#]), 2)
    XCTAssertEqual(metrics["redub_blocklisted_workers"], 0)
    XCTAssertEqual(metrics[#"redub_task_retries_total{reason="expired"}"#], 0)
    XCTAssertNotNil(metrics[#"redub_blob_bytes_total{direction="to_workers"}"#])

    // The worker dies mid-task: its lease expires and the task is retried elsewhere.
    XCTAssertTrue(try eventually(20) { try client.status(job).tasks.contains { $0.worker == "victim" && $0.iteration >= 1 } })
    victim.signal(SIGKILL)
    try farm.startWorker("survivor")
    let final = try client.wait(job, limit: .seconds(60))
    XCTAssertEqual(final.state, "done", final.error)
    XCTAssertTrue(eventually(5) { (try? Metrics(httpGet("\(monitor)/metrics")))?[#"redub_workers{state="idle"}"#] == 1 })
    metrics = try Metrics(httpGet("\(monitor)/metrics"))
    XCTAssertEqual(metrics[#"redub_tasks{state="done"}"#], 4)
    XCTAssertEqual(metrics[#"redub_tasks{state="running"}"#], 0)
    XCTAssertEqual(metrics[#"redub_jobs{state="done"}"#], 1)
    XCTAssertEqual(metrics[#"redub_task_retries_total{reason="expired"}"#], 1, "only the killed worker's lease expires")
    XCTAssertEqual(metrics[#"redub_task_seconds_count{stage="test"}"#], 4)
    XCTAssertGreaterThan(try XCTUnwrap(metrics[#"redub_task_seconds_sum{stage="test"}"#]), 4 * 20 * 0.1 * 0.9)
    XCTAssertNil(metrics[#"redub_worker_heartbeat_age_seconds{worker="victim",name="victim"}"#], "a lost worker's series goes")
    XCTAssertNotNil(metrics[#"redub_worker_heartbeat_age_seconds{worker="survivor",name="survivor"}"#])
    let requests = hammering.stop()
    XCTAssertGreaterThan(requests.ok, 10)
    XCTAssertEqual(requests.failed, 0)
    print("monitor: \(requests.ok) requests served while the job ran")
  }

  func testMonitorRefusesANonLoopbackAddressWithoutOptIn() throws {
    let folder = TemporaryFolder("monitor-refuse")
    let process = try FarmProcess("coordinator", [
      "coordinator", "--state", folder.url.appendingPathComponent("state").path, "--control", "tcp://127.0.0.1:*",
      "--bulk", "tcp://127.0.0.1:*", "--http", "0.0.0.0:0",
    ], folder: folder.url)
    XCTAssertNotEqual(process.waitForExit(30), 0)
    XCTAssertTrue(process.log.contains("--http-public"), process.log)
  }

  /// Headless Chromium (Debian's `chromium`) renders the page of a running job; the DOM must
  /// show the job, its task grid with every state, and the workers. The screenshot is kept at
  /// `monitorArtifacts/monitor-page.png`.
  func testChromiumRendersTheMonitorPageOfARunningJob() throws {
    let chromium = try XCTUnwrap(Chromium.executable, Chromium.missing)
    let farm = ProcessFarm()
    let monitor = try farm.startCoordinatorWithMonitor()
    try farm.startWorker("w1")
    try farm.startWorker("w2")
    let client = try farm.client()
    let job = try client.submit(sumJob("browser <job>", count: 12, steps: 40, stepMilliseconds: 100))
    // Some tasks done, two running (with progress), the rest queued.
    XCTAssertTrue(try eventually(40) {
      let status = try client.status(job)
      return status.tasksDone >= 2 && status.tasks.filter { $0.state == "leased" && $0.iteration >= 1 }.count == 2
    })

    let dom = try Chromium.run(chromium, ["--dump-dom", "\(monitor)/"])
    XCTAssertTrue(dom.contains("<title>redub farm</title>"), dom)
    XCTAssertTrue(dom.contains("data-job=\"\(job)\""), "the job list names the job")
    XCTAssertTrue(dom.contains("browser &lt;job&gt;"), "the job's name, escaped")
    XCTAssertTrue(dom.contains("id=\"grid-\(job)\""), "the job's task grid")
    let cells = matches(#"<span class="cell (\w+)" data-task="task-\d{4}""#, in: dom)
    XCTAssertEqual(cells.count, 12, "one grid cell per task")
    XCTAssertEqual(cells.filter { $0 == "running" }.count, 2)
    XCTAssertGreaterThanOrEqual(cells.filter { $0 == "done" }.count, 2)
    XCTAssertGreaterThanOrEqual(cells.filter { $0 == "queued" }.count, 1)
    XCTAssertEqual(Set(matches(#"<tr class="worker" data-worker="(\w+)""#, in: dom)), ["w1", "w2"], "the worker list")
    XCTAssertEqual(matches(#"<td class="state (\w+)">"#, in: dom).filter { $0 == "busy" }.count, 2)
    XCTAssertEqual(matches(#"<tr class="running-task" data-task="(task-\d{4})""#, in: dom).count, 2)
    XCTAssertTrue(dom.contains("http-equiv=\"refresh\""), "the page refreshes itself")

    let folder = MonitorTests.artifacts
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let screenshot = folder.appendingPathComponent("monitor-page.png")
    try? FileManager.default.removeItem(at: screenshot)
    _ = try Chromium.run(chromium, ["--screenshot=\(screenshot.path)", "--window-size=1280,900", "\(monitor)/?job=\(job)"])
    let png = try Data(contentsOf: screenshot)
    XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG")
    XCTAssertGreaterThan(png.count, 10_000)
    print("monitor: screenshot of the page at \(screenshot.path)")
    _ = try client.cancel(job)
  }

  // MARK: Helpers

  /// Test artifacts: `REDUB_TEST_ARTIFACTS`, or `test-artifacts/` in the build folder beside
  /// the `redub` executable (`.build/debug/test-artifacts`, `.build/release/test-artifacts`).
  static var artifacts: URL {
    if let path = ProcessInfo.processInfo.environment["REDUB_TEST_ARTIFACTS"], !path.isEmpty { return URL(fileURLWithPath: path) }
    return FarmProcess.redubExecutable.deletingLastPathComponent().appendingPathComponent("test-artifacts")
  }

  func matches(_ pattern: String, in text: String) -> [String] {
    let expression = try! NSRegularExpression(pattern: pattern)
    return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
      $0.numberOfRanges > 1 ? Range($0.range(at: 1), in: text).map { String(text[$0]) } : nil
    }
  }

  func json(_ reply: HTTPReply) throws -> [String: Any] {
    XCTAssertEqual(reply.status, 200, reply.body)
    XCTAssertTrue(reply.contentType.hasPrefix("application/json"), reply.contentType)
    return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any], reply.body)
  }
}

extension ProcessFarm {
  /// Starts the coordinator with `--http 127.0.0.1:0`; returns the monitor's base URL.
  func startCoordinatorWithMonitor() throws -> String {
    try startCoordinator(extra: ["--http", "127.0.0.1:0"])
    let process = coordinator!
    var base = ""
    XCTAssertTrue(eventually(30) {
      base = process.log.split(separator: "\n").first { $0.hasPrefix("coordinator: monitor ") }
        .map { String($0.dropFirst("coordinator: monitor ".count)) } ?? ""
      return !base.isEmpty
    }, process.log)
    return base.hasSuffix("/") ? String(base.dropLast()) : base
  }
}

/// Prometheus text format: the value of each series by its name and labels as written.
struct Metrics {
  var values: [String: Double] = [:]
  init(_ reply: HTTPReply) throws {
    XCTAssertEqual(reply.status, 200)
    XCTAssertTrue(reply.contentType.hasPrefix("text/plain"), reply.contentType)
    for line in reply.body.split(separator: "\n") where !line.hasPrefix("#") {
      guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
      values[String(line[..<space])] = value
    }
  }
  subscript(_ series: String) -> Double? { values[series] }
}

/// Threads that GET the given URLs in a loop until stopped; counts the answers.
final class Hammer: Sendable {
  private let counts = Mutex((ok: 0, failed: 0))
  private let running = Mutex(true)
  private let finished = DispatchGroup()

  init(urls: [String], threads: Int = 2) {
    for index in 0..<threads {
      finished.enter()
      Thread { [self] in
        var i = index
        while running.withLock({ $0 }) {
          let ok = (try? httpGet(urls[i % urls.count]))?.status == 200
          counts.withLock { ok ? ($0.ok += 1) : ($0.failed += 1) }
          i += 1
          usleep(5000)
        }
        finished.leave()
      }.start()
    }
  }

  @discardableResult
  func stop() -> (ok: Int, failed: Int) {
    running.withLock { $0 = false }
    finished.wait()
    return counts.withLock { $0 }
  }
}
