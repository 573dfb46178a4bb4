import Foundation
import Media
import Tensors
import TestSupport
import XCTest

/// An edit on a farm of three `redub` worker processes computes what `redub edit` computes in one
/// process — bitwise, with the same thread count — and survives its coordinator and a worker
/// being killed during `optimize` (a fresh worker takes the dead one's place) without rerunning
/// finished windows.
final class EditFarmTests: XCTestCase {
  var folder: URL!
  var coordinator: BackgroundProcess?
  var control = ""
  var workers: [BackgroundProcess] = []

  override func setUpWithError() throws {
    folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-edit-farm-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    workers.removeAll()
    coordinator = nil
    if ProcessInfo.processInfo.environment["REDUB_KEEP_TEST_FILES"] == nil { try? FileManager.default.removeItem(at: folder) }
  }

  func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

  func startCoordinator() throws {
    let process = try BackgroundProcess("coordinator", executable: CLITests.executable, [
      "coordinator", "--state", path("farm-state"), "--control", control.isEmpty ? "tcp://127.0.0.1:*" : control,
      "--bulk", "tcp://127.0.0.1:*", "--data-root", folder.path, "--heartbeat-ms", "100",
    ], folder: folder)
    coordinator = process
    let started = eventually(30) { process.log.contains("coordinator: control ") }
    let line = process.log.split(separator: "\n").first { $0.hasPrefix("coordinator: control ") }
    guard started, let line else { throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "coordinator did not start: \(process.log)"]) }
    control = String(line.split(separator: " ")[2].dropLast())
  }

  func startWorker(_ name: String) throws {
    workers.append(try BackgroundProcess(name, executable: CLITests.executable, [
      "worker", "--coordinator", control, "--cache", path("cache-\(name)"), "--name", name, "--id", name, "--threads", "1",
      "--reconnect-ms", "100", "--reconnect-max-ms", "400", "--drain-grace", "0",
    ], folder: folder))
  }

  func client(_ arguments: [String]) throws -> (status: Int32, output: String) {
    try CLITests.redub(arguments + ["--coordinator", control])
  }

  /// The job's tasks as `redub status --all-tasks --json` reports them: key → (state, epoch, worker).
  func tasks(_ job: String) throws -> [String: (state: String, epoch: Int, worker: String)] {
    let (_, output) = try client(["status", job, "--all-tasks", "--json"])
    guard let json = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else { return [:] }
    var tasks: [String: (String, Int, String)] = [:]
    for task in json["tasks"] as? [[String: Any]] ?? [] {
      let epoch = Int(task["epoch"] as? String ?? "") ?? (task["epoch"] as? Int ?? 0)
      tasks[task["key"] as? String ?? ""] = (task["state"] as? String ?? "", epoch, task["worker"] as? String ?? "")
    }
    return tasks
  }

  func frames(_ file: String) throws -> [[UInt8]] {
    let reader = try VideoReader(path: file)
    var frames: [[UInt8]] = []
    while let frame = try reader.nextFrame() { frames.append(frame.image.pixels) }
    return frames
  }

  func testFarmEqualsLocalAndSurvivesKills() throws {
    let started = Date()
    func mark(_ what: String) { print(String(format: "%6.1f s: %@", Date().timeIntervalSince(started), what)) }
    try CLITests.makeEditInputs(in: folder)
    // Four windows (3 frames overlapping by 1 over the 9 edited frames) for three workers, long
    // enough (12 steps) that the kill below lands while the fourth runs and others are done.
    let method = ["--landmarks", path("landmarks.safetensors"), "--window", "3", "--overlap", "1", "--steps", "12",
                  "--invert-steps", "2", "--tune-steps", "2", "--stitch-steps", "1", "--chunk", "4", "--fan-input-size", "64"]

    // In one process, one thread: the reference.
    var (status, output) = try CLITests.redub(["edit", path("clip.mp4"), "--audio", path("dub.wav"), "--models", path("models"),
                                           "--output", path("local.mp4"), "--state", path("local-state"), "--threads", "1"] + method)
    XCTAssertEqual(status, 0, output)

    mark("local edit done")
    // On a farm of three single-threaded workers.
    try startCoordinator()
    for name in ["w1", "w2", "w3"] { try startWorker(name) }
    (status, output) = try client(["submit", path("clip.mp4"), "--audio", path("dub.wav"), "--models", path("models"),
                                   "--output", path("out/farm.mp4"), "--export-latents"] + method)
    XCTAssertEqual(status, 0, output)
    let job = output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""

    // Kill the coordinator and a worker once some windows are done and others are running.
    var before: [String: (state: String, epoch: Int, worker: String)] = [:]
    let midOptimize = eventually(120) {
      before = (try? tasks(job)) ?? [:]
      let optimize = before.filter { $0.key.hasPrefix("optimize-") }
      return optimize.values.contains { $0.state == "done" } && optimize.values.contains { $0.state != "done" }
    }
    XCTAssertTrue(midOptimize, "never caught optimize half done: \(before)")
    mark("killing the coordinator and a busy worker at \(before.filter { $0.key.hasPrefix("optimize-") }.mapValues { "\($0.state) \($0.worker)" })")
    coordinator!.signal(SIGKILL)
    _ = coordinator!.waitForExit(10)
    // The worker computing a window dies with its task half done.
    let busy = before.first { $0.key.hasPrefix("optimize-") && $0.value.state == "leased" }?.value.worker
    let victim = workers.first { $0.name == busy } ?? workers[0]
    victim.signal(SIGKILL)
    _ = victim.waitForExit(10)
    try startCoordinator()
    try startWorker("w4")
    XCTAssertEqual(workers.filter { $0.process.isRunning }.count, 3, "three worker processes again")
    (status, output) = try client(["wait", job, "--limit", "300"])
    XCTAssertEqual(status, 0, output + "\n" + coordinator!.log)

    mark("farm job done")
    // Finished windows kept their first (and only) lease; the results are the local ones, bit for bit.
    let after = try tasks(job)
    for (key, task) in before where key.hasPrefix("optimize-") && task.state == "done" {
      XCTAssertEqual(after[key]?.epoch, task.epoch, "\(key) ran again")
    }
    let local = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path("local-state/tasks/merge/latents.safetensors"))).tensor("latents")
    let farm = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: path("out/farm.latents.safetensors"))).tensor("latents")
    XCTAssertEqual(local.shape, farm.shape)
    let difference = zip(local.scalars, farm.scalars).map { abs($0 - $1) }.max() ?? .infinity
    XCTAssertEqual(difference, 0, "merged latents differ by up to \(difference)")
    let localFrames = try frames(path("local.mp4")), farmFrames = try frames(path("out/farm.mp4"))
    XCTAssertEqual(localFrames.count, 10)
    XCTAssertEqual(farmFrames.count, 10)
    XCTAssertTrue(localFrames == farmFrames, "output frames differ")

    // The coordinator wrote the job's report beside the video; `redub report` writes it again.
    XCTAssertTrue(eventually(30) { FileManager.default.fileExists(atPath: path("out/farm.report.html")) }, coordinator!.log)
    let page = try String(contentsOfFile: path("out/farm.report.html"), encoding: .utf8)
    for part in ["seam metric", "data:image/png;base64,", "optimize-0001", "without a face (unedited)</th><td>7"] {
      XCTAssertTrue(page.contains(part), "the farm report lacks \(part)")
    }
    try ContactSheetCheck.verify(path("out/farm.report.contact.png"), columns: [path("clip.mp4"), path("out/farm.mp4")], frames: [1, 3, 6, 8])
    try FileManager.default.removeItem(atPath: path("out/farm.report.losses.png"))
    // Again with a ground truth (here the clip itself, as a stand-in): the contact sheet gets a third column.
    (status, output) = try CLITests.redub(["report", job, "--state", path("farm-state"), "--ground-truth", path("clip.mp4")])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("farm.report.losses.png") && output.contains("farm.report.contact.png"), output)
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("out/farm.report.losses.png"))).prefix(4), Data([0x89, 0x50, 0x4E, 0x47]))
    try ContactSheetCheck.verify(path("out/farm.report.contact.png"), columns: [path("clip.mp4"), path("out/farm.mp4"), path("clip.mp4")],
                                 frames: [1, 3, 6, 8])
    XCTAssertTrue(try String(contentsOfFile: path("out/farm.report.html"), encoding: .utf8)
      .contains("alt=\"contact sheet: original, edited, ground truth\""))
    (status, output) = try CLITests.redub(["report", job, "--state", path("farm-state"), "--ground-truth", path("no-such.mp4")])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("no-such.mp4: no such file"), output)

    // A clip that does not decode fails the job at once (no retries) with the decoder's error.
    let clip = try Data(contentsOf: URL(fileURLWithPath: path("clip.mp4")))
    try clip.prefix(clip.count / 3).write(to: URL(fileURLWithPath: path("corrupt.mp4")))
    (status, output) = try client(["submit", path("corrupt.mp4"), "--audio", path("dub.wav"), "--models", path("models"),
                                   "--output", path("out/corrupt.mp4")] + method)
    XCTAssertEqual(status, 0, output)
    let corrupt = output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""
    (status, output) = try client(["wait", corrupt, "--limit", "120"])
    XCTAssertEqual(status, 1, output)
    XCTAssertTrue(output.contains("task prepare failed on worker"), output)
    XCTAssertTrue(output.contains("(not retryable): 'clip' is truncated"), output)
    XCTAssertEqual(try tasks(corrupt)["prepare"]?.state, "failed")
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("out/corrupt.mp4")))
  }
}
