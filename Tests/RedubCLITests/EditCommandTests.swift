import Foundation
import Media
import Tensors
import XCTest

/// `redub edit` end to end on the demo model set, a short clip, synthetic landmarks (one frame
/// without a face) and a synthetic dub: the video comes out with every frame, the clip's rate and
/// the dub's audio; a resumed edit reruns nothing.
final class EditCommandTests: XCTestCase {
  func testEditRunsEveryStageAndResumesWithoutRerunning() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-edit-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { if ProcessInfo.processInfo.environment["REDUB_KEEP_TEST_FILES"] == nil { try? FileManager.default.removeItem(at: folder) } }
    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    try CLITests.makeEditInputs(in: folder)
    var status: Int32, output: String

    let arguments = ["edit", path("clip.mp4"), "--audio", path("dub.wav"), "--models", path("models"), "--output", path("out.mp4"),
                     "--landmarks", path("landmarks.safetensors"), "--state", path("state"), "--window", "4", "--overlap", "1",
                     "--steps", "2", "--invert-steps", "2", "--tune-steps", "2", "--stitch-steps", "1", "--chunk", "4",
                     "--fan-input-size", "64", "--threads", "2"]
    (status, output) = try CLITests.redub(arguments)
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("10 frames, 9 edited, no face (unedited) in 7"), output)
    XCTAssertTrue(output.contains("these are the demo models"), output)
    let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("state/report.json")))) as? [String: Any])
    // The page: summary, stage chart, loss table and four original/edited pairs, all inline.
    let page = try String(contentsOfFile: path("state/report.html"), encoding: .utf8)
    for part in ["seam metric", "<svg", "optimize-0002", "lpips", "without a face (unedited)</th><td>7"] {
      XCTAssertTrue(page.contains(part), "report.html lacks \(part)")
    }
    XCTAssertEqual(page.components(separatedBy: "data:image/bmp;base64,").count - 1, 8)
    // The plots, inline and as PNG files beside the page.
    XCTAssertEqual(page.components(separatedBy: "data:image/png;base64,").count - 1, 2, "loss curves and seams")
    for plot in ["losses", "seams", "stages"] {
      let png = try Data(contentsOf: URL(fileURLWithPath: path("state/report.\(plot).png")))
      XCTAssertEqual(png.prefix(8), Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), plot)
    }
    // FFmpeg's PNG decoder reads the plot back: white ground, bars blue (≤ 1.5) or red.
    let reader = try VideoReader(path: path("state/report.seams.png"))
    let plot = try XCTUnwrap(try reader.nextFrame()).image
    XCTAssertEqual(plot.pixels.prefix(3), [255, 255, 255])
    let bar: Set<[UInt8]> = [[74, 123, 208], [214, 96, 77]]
    XCTAssertTrue(stride(from: 0, to: plot.pixels.count, by: 3).contains { bar.contains(Array(plot.pixels[$0..<($0 + 3)])) })
    let seams = try XCTUnwrap(report["seams"] as? [String: Double])
    XCTAssertGreaterThanOrEqual(seams.count, 2, "three windows meet at two places: \(seams)")
    XCTAssertTrue(seams.values.allSatisfy { $0.isFinite && $0 > 0 }, "\(seams)")
    let ran = try XCTUnwrap(report["ranSteps"] as? [String: Int])
    XCTAssertEqual(ran["optimize"], 3, "windows of 4 frames overlapping by 1 over 9 frames")
    XCTAssertEqual(ran["invert"], 3)
    XCTAssertEqual(ran["composite"], 1)

    (status, output) = try CLITests.redub(["tools", "probe", path("out.mp4"), "--json"])
    XCTAssertEqual(status, 0, output)
    let probe = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
    let video = try XCTUnwrap(probe["video"] as? [String: Any])
    XCTAssertEqual(video["frames"] as? Int, 10)
    XCTAssertEqual(video["fps"] as? Double, 25)
    XCTAssertNotNil(probe["audio"], "the dub is muxed")
    let first = try Data(contentsOf: URL(fileURLWithPath: path("out.mp4")))

    // Resume a finished edit: nothing runs again, the output stays.
    (status, output) = try CLITests.redub(["edit", "--resume", path("state")])
    XCTAssertEqual(status, 0, output)
    let again = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("state/report.json")))) as? [String: Any])
    XCTAssertEqual((again["ranSteps"] as? [String: Int]) ?? [:], [:])
    XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("out.mp4"))), first)

    // Interrupted after optimize: remove the later stages' files; only they run again.
    for task in ["merge", "stitch-00000", "stitch-00001", "stitch-00002", "composite", "optimize-0002"] {
      try FileManager.default.removeItem(atPath: path("state/tasks/\(task)"))
    }
    (status, output) = try CLITests.redub(["edit", "--resume", path("state"), "--workers", "2", "--threads", "2"])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("2 workers × 1 thread(s)"), output)
    XCTAssertTrue(output.contains("stitch: 100%") && output.contains("3/3 tasks"), "a line per stage, over its tasks: \(output)")
    let resumed = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("state/report.json")))) as? [String: Any])
    XCTAssertEqual(resumed["ranSteps"] as? [String: Int], ["optimize": 1, "merge": 1, "stitch": 3, "composite": 1])

    // Another job in the same state folder is refused; a missing network is named.
    (status, output) = try CLITests.redub(arguments.map { $0 == "4" ? "5" : $0 })
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("holds the state of another edit"), output)
    try FileManager.default.removeItem(atPath: path("models/bisenet.safetensors"))
    (status, output) = try CLITests.redub(arguments.map { $0 == path("state") ? path("state2") : $0 })
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("has no bisenet.safetensors"), output)
  }
}

/// `redub demo` at its smallest: every stage runs on the built-in data and a playable video
/// with the dub comes out.
final class DemoCommandTests: XCTestCase {
  func testDemoRunsTheWholeJob() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-demo-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    var (status, output) = try CLITests.redub(["demo", "--folder", folder.path, "--steps", "1"])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("Demo finished"), output)
    XCTAssertTrue(output.contains("on 2 worker(s)"), output)
    XCTAssertTrue(output.contains("untrained"), output)
    (status, output) = try CLITests.redub(["tools", "probe", folder.appendingPathComponent("output.mp4").path, "--json"])
    XCTAssertEqual(status, 0, output)
    let probe = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
    let clip = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try CLITests.redub(
      ["tools", "probe", folder.appendingPathComponent("inputs/clip.mp4").path, "--json"]).output.utf8)) as? [String: Any])
    XCTAssertEqual((probe["video"] as? [String: Any])?["frames"] as? Int, (clip["video"] as? [String: Any])?["frames"] as? Int)
    XCTAssertEqual((probe["video"] as? [String: Any])?["fps"] as? Double, 25)
    XCTAssertNotNil(probe["audio"])
    let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("report.json"))) as? [String: Any])
    XCTAssertEqual(Set((report["ranSteps"] as? [String: Int] ?? [:]).keys),
                   ["prepare", "invert", "tune", "optimize", "merge", "stitch", "composite"])
  }
}
