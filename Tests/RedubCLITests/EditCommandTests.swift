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
                     "--fan-input-size", "64", "--threads", "2", "--fan-weight", "0.004", "--landmark-weights", "mouth=4,jaw=0"]
    // Bad method options are refused before anything is written.
    for (bad, message) in [(["--fan-weight=-1"], "--fan-weight must be a number ≥ 0."),
                           (["--landmark-weights", "lips=3"], "'lips=3' is not GROUP=WEIGHT with GROUP one of jaw, brows, nose, eyes, mouth"),
                           (["--learning-rate", "0"], "--learning-rate must be positive.")] {
      (status, output) = try CLITests.redub(arguments + bad)
      XCTAssertNotEqual(status, 0, output)
      XCTAssertTrue(output.contains(message), "\(bad): \(output)")
      XCTAssertFalse(FileManager.default.fileExists(atPath: path("state")))
    }
    (status, output) = try CLITests.redub(arguments)
    XCTAssertEqual(status, 0, output)
    // The loss weights reach the job's settings.
    let job = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("state/job.json")))) as? [String: Any])
    let settings = try XCTUnwrap(job["settings"] as? [String: Any])
    XCTAssertEqual((settings["fanWeight"] as? Double).map { Float($0) }, 0.004)
    let weights = try XCTUnwrap(settings["landmarkWeights"] as? [Double])
    XCTAssertEqual(weights.count, 68)
    XCTAssertEqual([weights[0], weights[20], weights[40], weights[50]], [0, 1, 2, 4], "jaw 0, brows 1, eyes 2 (default), mouth 4")
    XCTAssertTrue(output.contains("10 frames, 9 edited, no face (unedited) in 7"), output)
    XCTAssertTrue(output.contains("these are the demo models (seeded random weights): the pipeline ran, the edit means nothing"), output)
    let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path("state/report.json")))) as? [String: Any])
    XCTAssertEqual(report["demoModels"] as? String, "seeded random weights")
    // The page: summary, stage chart, loss table, skipped frames and the contact sheet, all inline.
    let page = try String(contentsOfFile: path("state/report.html"), encoding: .utf8)
    for part in ["seam metric", "<svg", "optimize-0002", "lpips", "without a face (unedited)</th><td>7",
                 "<p id=\"skipped\">1 of 10 frames left as they were: 7</p>",
                 "<img id=\"contact-sheet\" alt=\"contact sheet: original, edited\" width=\"328\" height=\"414\" src=\"data:image/png;base64,"] {
      XCTAssertTrue(page.contains(part), "report.html lacks \(part)")
    }
    // The plots and the contact sheet, inline and as PNG files beside the page.
    XCTAssertEqual(page.components(separatedBy: "data:image/png;base64,").count - 1, 3, "loss curves, seams, contact sheet")
    // Four timestamps spread over the 10 frames; each cell is the clip's or the output's frame.
    try ContactSheetCheck.verify(path("state/report.contact.png"), columns: [path("clip.mp4"), path("out.mp4")], frames: [1, 3, 6, 8])
    for plot in ["losses", "seams", "stages", "contact"] {
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

/// `redub demo`, short (the first second of the clip, 15 steps): every stage runs on the
/// built-in data with the trained demo models, a playable video with the dub comes out, the edit
/// leaves what lies outside the face alone, the seam stays within the goal, and the edited
/// mouth is much closer to the ground truth's than the unedited one (measured 0.44 of it with
/// the models shipped since 2026-12-06 evening; asserted ≤ 0.6, so a change that
/// loses part of the method's effect fails here; README, "The measured edit").
final class DemoCommandTests: XCTestCase {
  func testDemoRunsTheWholeJobAndMeasuresIt() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-demo-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    var (status, output) = try CLITests.redub(["demo", "--folder", folder.path, "--frames", "\(Self.frames)", "--steps", "\(Self.steps)"])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("Demo finished"), output)
    XCTAssertTrue(output.contains("on 2 worker(s)"), output)
    let demoOutput = output
    (status, output) = try CLITests.redub(["tools", "probe", folder.appendingPathComponent("output.mp4").path, "--json"])
    XCTAssertEqual(status, 0, output)
    let probe = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
    XCTAssertEqual((probe["video"] as? [String: Any])?["frames"] as? Int, Self.frames)
    XCTAssertEqual((probe["video"] as? [String: Any])?["fps"] as? Double, 25)
    let audio = try XCTUnwrap(probe["audio"] as? [String: Any])
    XCTAssertEqual(try XCTUnwrap(audio["duration"] as? Double), Double(Self.frames) / 25, accuracy: 0.05)
    let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("report.json"))) as? [String: Any])
    XCTAssertEqual(Set((report["ranSteps"] as? [String: Int] ?? [:]).keys),
                   ["prepare", "invert", "tune", "optimize", "merge", "stitch", "composite"])
    let m = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("measurement.json"))) as? [String: Any])
    // Both mouths were measured on every frame (a FAN that found nothing would leave them out).
    XCTAssertEqual(m["frames"] as? Int, Self.frames)
    for key in ["editedMouthDistance", "uneditedMouthDistance"] {
      let distance = try XCTUnwrap(m[key] as? Double, key)
      XCTAssertTrue(distance > 0 && distance < 20, "\(key) \(distance) px\n\(demoOutput)")
    }
    XCTAssertGreaterThanOrEqual(try XCTUnwrap(m["psnrOutsideFace"] as? Double), 40, demoOutput)
    let edited = try XCTUnwrap(m["editedMouthDistance"] as? Double), unedited = try XCTUnwrap(m["uneditedMouthDistance"] as? Double)
    XCTAssertLessThanOrEqual(edited, 0.6 * unedited, "the edit did not bring the mouth close enough to the truth\n\(demoOutput)")
    XCTAssertLessThanOrEqual(try XCTUnwrap(m["seamMetric"] as? Double), 1.5, demoOutput)
    // The shipped audio-to-landmark model's targets (exact landmarks; measured 0.23 of unedited).
    let target = try XCTUnwrap(m["targetMouthDistance"] as? Double), exact = try XCTUnwrap(m["exactUneditedMouthDistance"] as? Double)
    XCTAssertLessThanOrEqual(target, 0.35 * exact, "the audio-to-landmark targets are far from the truth\n\(demoOutput)")
    XCTAssertTrue(demoOutput.contains("mouth landmark distance (M-LD) to the ground truth"), demoOutput)
    let page = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
    XCTAssertTrue(page.contains("ground truth"))
    // The trained demo models are not called random.
    XCTAssertTrue(page.contains("tiny networks; real footage needs the official models"))
    XCTAssertFalse(page.contains("means nothing"))
  }

  static let frames = 24
  static let steps = 15
}
