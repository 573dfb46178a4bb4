import Foundation
import Media
import TestSupport
import XCTest

/// The web monitor of a farm running an edit job: each running window's latest render is a
/// thumbnail on the page and at `/api/tasks/TASK_ID/thumbnail.png`, a PNG of the generator's size.
final class EditMonitorTests: XCTestCase {
  func testRunningWindowsShowTheirLatestRenderAsAThumbnail() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-edit-monitor-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { if ProcessInfo.processInfo.environment["REDUB_KEEP_TEST_FILES"] == nil { try? FileManager.default.removeItem(at: folder) } }
    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
    try CLITests.makeEditInputs(in: folder)

    let coordinator = try BackgroundProcess("coordinator", executable: CLITests.executable, [
      "coordinator", "--state", path("state"), "--control", "tcp://127.0.0.1:*", "--bulk", "tcp://127.0.0.1:*",
      "--data-root", folder.path, "--heartbeat-ms", "100", "--http", "127.0.0.1:0",
    ], folder: folder)
    var control = "", monitor = ""
    XCTAssertTrue(eventually(30) {
      let lines = coordinator.log.split(separator: "\n")
      control = lines.first { $0.hasPrefix("coordinator: control ") }.map { String($0.split(separator: " ")[2].dropLast()) } ?? ""
      monitor = lines.first { $0.hasPrefix("coordinator: monitor ") }.map { String($0.dropFirst("coordinator: monitor ".count)) } ?? ""
      return !control.isEmpty && !monitor.isEmpty
    }, coordinator.log)
    if monitor.hasSuffix("/") { monitor.removeLast() }
    let worker = try BackgroundProcess("w1", executable: CLITests.executable, [
      "worker", "--coordinator", control, "--cache", path("cache-w1"), "--name", "w1", "--id", "w1", "--threads", "1",
    ], folder: folder)
    // Windows long enough to be caught running; the job is cancelled once seen.
    var (status, output) = try CLITests.redub([
      "submit", path("clip.mp4"), "--audio", path("dub.wav"), "--models", path("models"), "--output", path("out/edit.mp4"),
      "--landmarks", path("landmarks.safetensors"), "--window", "4", "--overlap", "1", "--steps", "300", "--invert-steps", "2",
      "--tune-steps", "2", "--stitch-steps", "1", "--chunk", "4", "--fan-input-size", "64", "--coordinator", control,
    ])
    XCTAssertEqual(status, 0, output)
    let job = output.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").last.map(String.init) ?? ""
    defer { _ = try? CLITests.redub(["cancel", job, "--coordinator", control]) }

    // The JSON status marks the running window that sent a thumbnail.
    var window: [String: Any] = [:]
    var tasks: [[String: Any]] = []
    XCTAssertTrue(eventually(180) {
      guard let reply = try? httpGet("\(monitor)/api/jobs/\(job)?all-tasks=1"), reply.status == 200,
            let json = try? JSONSerialization.jsonObject(with: reply.data) as? [String: Any] else { return false }
      tasks = json["tasks"] as? [[String: Any]] ?? []
      window = tasks.first { ($0["key"] as? String ?? "").hasPrefix("optimize-") && $0["state"] as? String == "leased"
        && $0["thumbnailReady"] as? Bool == true } ?? [:]
      return !window.isEmpty
    }, "no running optimize window with a thumbnail: \(tasks)\n\(worker.log)")
    let taskID = try XCTUnwrap(window["taskId"] as? String)
    let key = try XCTUnwrap(window["key"] as? String)

    // The picture: a PNG that FFmpeg decodes to the generator's 64×64 render, not a flat fill.
    let reply = try httpGet("\(monitor)/api/tasks/\(taskID)/thumbnail.png")
    XCTAssertEqual(reply.status, 200, reply.body)
    XCTAssertEqual(reply.contentType, "image/png")
    XCTAssertLessThan(reply.data.count, 48 << 10, "thumbnails keep the wire light")
    let file = folder.appendingPathComponent("thumbnail.png")
    try reply.data.write(to: file)
    let picture = try XCTUnwrap(try VideoReader(path: file.path).nextFrame()).image
    XCTAssertEqual([picture.width, picture.height], [64, 64])
    XCTAssertGreaterThan(Set(picture.pixels).count, 16, "a render, not a flat picture")

    // Tasks without one, and addresses that name no task, get a 404 that says why.
    let done = try XCTUnwrap(tasks.first { $0["key"] as? String == "prepare" }?["taskId"] as? String)
    let none = try httpGet("\(monitor)/api/tasks/\(done)/thumbnail.png")
    XCTAssertEqual(none.status, 404)
    XCTAssertTrue(none.body.contains("has no thumbnail now"), none.body)
    let bad = try httpGet("\(monitor)/api/tasks/window/thumbnail.png")
    XCTAssertEqual(bad.status, 404)
    XCTAssertTrue(bad.body.contains("is not a task id"), bad.body)

    // The page, as a browser renders it: an <img> of the running window's thumbnail at its size.
    let chromium = try XCTUnwrap(Chromium.executable, Chromium.missing)
    let dom = try Chromium.run(chromium, ["--dump-dom", "\(monitor)/?job=\(job)"])
    let pattern = #"<img class="thumbnail" data-task="(optimize-\d+)" src="/api/tasks/(\d+)/thumbnail\.png\?at=\d+" width="64" height="64""#
    let expression = try NSRegularExpression(pattern: pattern)
    let found = expression.matches(in: dom, range: NSRange(dom.startIndex..., in: dom)).compactMap { match in
      Range(match.range(at: 1), in: dom).map { String(dom[$0]) }
    }
    // One worker: one running window (the one seen above, or the next if it finished meanwhile).
    XCTAssertEqual(found.count, 1, "one running window, one thumbnail: \(dom)")
    XCTAssertTrue(found.allSatisfy { $0.hasPrefix("optimize-") && $0 >= key }, "\(found) after \(key)")
    (status, output) = try CLITests.redub(["cancel", job, "--coordinator", control])
    XCTAssertEqual(status, 0, output)
  }
}
