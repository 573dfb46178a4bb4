import DemoWorld
import Foundation
import Networks
import XCTest

/// `redub eval` end to end: a clip against itself (PSNR inf, SSIM 1, LPIPS 0, LD 0), a
/// re-encoding of it with landmark files whose mouths are moved by known amounts, detection with
/// the demo models, and bad input.
final class EvalCommandTests: XCTestCase {
  /// Runs `redub`; standard output and standard error apart.
  static func redub(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = CLITests.executable
    process.arguments = arguments
    let errors = FileManager.default.temporaryDirectory.appendingPathComponent("redub-eval-stderr-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errors) }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = try FileHandle(forWritingTo: errors)
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self), try String(contentsOf: errors, encoding: .utf8))
  }

  static func json(_ text: String) throws -> [String: Any] {
    try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
  }

  func testEvalMeasuresClipsAndRefusesBadInput() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-eval-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { if ProcessInfo.processInfo.environment["REDUB_KEEP_TEST_FILES"] == nil { try? FileManager.default.removeItem(at: folder) } }
    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    var (status, output) = try CLITests.redub(["models", "demo", "--untrained", path("models")])
    XCTAssertEqual(status, 0, output)
    // The same synthetic clip encoded twice with different presets: same frames, same size,
    // slightly different pictures.
    for (name, preset, frames) in [("clip.mp4", "veryfast", "10"), ("edited.mp4", "ultrafast", "10"), ("long.mp4", "veryfast", "12")] {
      (status, output) = try CLITests.redub(["bench", "media", "--frames", frames, "--width", "128", "--height", "96", "--crop-size", "64",
                                             "--min-time", "0.01", "--preset", preset, "--keep", path(name)])
      XCTAssertEqual(status, 0, output)
    }
    // Landmarks: the synthetic face in the 128×96 frame, no face in frame 7; the edited clip's
    // mouth 1 px lower, the target's 3 px lower.
    let corpus = SyntheticSpeechCorpus.make(speakers: 1, sentences: 1, angles: 1)
    let faces = corpus[0].landmarks.prefix(10).map { $0.map { $0 * 0.4 } }
    func moved(_ dy: Double) -> [[SIMD2<Double>]] { faces.map { f in f.indices.map { f[$0] + ($0 >= 48 ? SIMD2(0, dy) : .zero) } } }
    try SyntheticSpeechCorpus.writeLandmarks(faces, missing: [7], to: URL(fileURLWithPath: path("reference.safetensors")), width: 128, height: 96)
    try SyntheticSpeechCorpus.writeLandmarks(moved(1), to: URL(fileURLWithPath: path("edited.safetensors")), width: 128, height: 96)
    try SyntheticSpeechCorpus.writeLandmarks(moved(3), missing: [2], to: URL(fileURLWithPath: path("target.safetensors")), width: 128, height: 96)

    // A clip against itself.
    var run = try Self.redub(["eval", path("clip.mp4"), "--reference", path("clip.mp4"), "--models", path("models"),
                              "--edited-landmarks", path("reference.safetensors"), "--reference-landmarks", path("reference.safetensors"),
                              "--lpips-size", "64", "--json", "--threads", "2"])
    XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
    XCTAssertTrue(run.stderr.contains("eval"), "a progress bar on standard error: \(run.stderr)")
    var result = try Self.json(run.stdout)
    var means = try XCTUnwrap(result["means"] as? [String: Any])
    XCTAssertEqual(means["psnr"] as? String, "inf")
    XCTAssertEqual(try XCTUnwrap(means["ssim"] as? Double), 1, accuracy: 1e-9)
    XCTAssertEqual(means["lpips"] as? Double, 0)
    XCTAssertEqual(means["f_ld"] as? Double, 0)
    XCTAssertEqual(means["m_ld"] as? Double, 0)
    XCTAssertTrue(means["lip_sync_m_ld"] is NSNull)
    XCTAssertEqual(result["identical_frames"] as? Int, 10)
    XCTAssertEqual(result["frames_without_landmarks"] as? [Int], [7])
    XCTAssertEqual((result["frames"] as? [Any])?.count, 10)
    XCTAssertEqual(result["lpips_input_size"] as? [Int], [64, 85])

    // The re-encoded clip against the original, with the table and every frame.
    run = try Self.redub(["eval", path("edited.mp4"), "--reference", path("clip.mp4"), "--models", path("models"),
                          "--edited-landmarks", path("edited.safetensors"), "--reference-landmarks", path("reference.safetensors"),
                          "--target-landmarks", path("target.safetensors"), "--lpips-size", "64", "--per-frame",
                          "--output", path("result.json"), "--threads", "2"])
    XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
    for text in ["PSNR (dB)", "SSIM", "LPIPS", "F-LD (px)", "M-LD (px)", "lip-sync M-LD (px)", "9 frame(s), 68 points",
                 "left out of F-LD and M-LD: 7", "left out of lip-sync: 2", "wrote \(path("result.json"))"] {
      XCTAssertTrue(run.stdout.contains(text), "lacks \(text):\n\(run.stdout)")
    }
    let rows = run.stdout.split(separator: "\n").filter { $0.range(of: #"^\s+\d+\s+\d+\.\d\d\s+\d\.\d{4}"#, options: .regularExpression) != nil }
    XCTAssertEqual(rows.count, 10, run.stdout)
    result = try Self.json(try String(contentsOfFile: path("result.json"), encoding: .utf8))
    means = try XCTUnwrap(result["means"] as? [String: Any])
    let psnr = try XCTUnwrap(means["psnr"] as? Double, "a finite PSNR: the presets decode differently")
    XCTAssertGreaterThan(psnr, 20)
    XCTAssertLessThan(psnr, 80)
    XCTAssertLessThan(try XCTUnwrap(means["ssim"] as? Double), 1)
    XCTAssertGreaterThan(try XCTUnwrap(means["lpips"] as? Double), 0)
    XCTAssertEqual(try XCTUnwrap(means["m_ld"] as? Double), 1, accuracy: 1e-4)
    XCTAssertEqual(try XCTUnwrap(means["f_ld"] as? Double), 20.0 / 68, accuracy: 1e-4)
    XCTAssertEqual(try XCTUnwrap(means["lip_sync_m_ld"] as? Double), 2, accuracy: 1e-4)
    XCTAssertEqual(result["frames_without_lip_sync"] as? [Int], [2])
    let frames = try XCTUnwrap(result["frames"] as? [[String: Any]])
    XCTAssertTrue(frames[7]["m_ld"] is NSNull)
    XCTAssertEqual(try XCTUnwrap(frames[3]["lip_sync_m_ld"] as? Double), 2, accuracy: 1e-4)

    // Landmarks detected with the demo models (seeded random S3FD and FAN): the same clip on
    // both sides gives the same landmarks, so every frame with a face has F-LD 0.
    run = try Self.redub(["eval", path("clip.mp4"), "--reference", path("clip.mp4"), "--models", path("models"),
                          "--lpips-size", "64", "--json", "--threads", "2"])
    XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
    result = try Self.json(run.stdout)
    let detected = try XCTUnwrap(result["frames"] as? [[String: Any]])
    let withFace = detected.compactMap { $0["f_ld"] as? Double }
    XCTAssertEqual(withFace.count + ((result["frames_without_landmarks"] as? [Int])?.count ?? -1), 10)
    XCTAssertTrue(withFace.allSatisfy { $0 == 0 }, "\(withFace)")

    // No models folder: PSNR and SSIM only, with notes.
    run = try Self.redub(["eval", path("edited.mp4"), "--reference", path("clip.mp4")])
    XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
    XCTAssertTrue(run.stdout.contains("note: LPIPS omitted"), run.stdout)
    XCTAssertTrue(run.stdout.contains("note: F-LD and M-LD omitted"), run.stdout)

    // Bad input.
    (status, output) = try CLITests.redub(["eval", path("missing.mp4"), "--reference", path("clip.mp4")])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("the edited clip \(path("missing.mp4")) does not exist"), output)
    (status, output) = try CLITests.redub(["eval", path("clip.mp4"), "--reference", path("long.mp4")])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("has 10 frames and the reference \(path("long.mp4")) has 12"), output)
    (status, output) = try CLITests.redub(["eval", path("clip.mp4"), "--reference", path("clip.mp4"),
                                           "--edited-landmarks", path("reference.safetensors"), "--reference-landmarks", path("models/lpips.safetensors")])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("is not a landmark file"), output)
    (status, output) = try CLITests.redub(["eval", path("clip.mp4")])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("--reference"), output)
  }

  /// `--face-boxes`: both clips' landmarks measured by the models folder's FAN (here a small
  /// seeded one) inside the boxes of a landmark file, with no detector; frames the box file
  /// has no face for are left out; the option needs a FAN and a box file of the clip's length.
  func testEvalMeasuresLandmarksInsideFaceBoxes() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-eval-boxes-\(UUID().uuidString)")
    let models = folder.appendingPathComponent("models")
    try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
    let fan = FAN(modules: 1, width: 16, inputSize: 64)
    fan.initializeForTraining(seed: 3)
    try fan.write(to: models.appendingPathComponent("fan.safetensors"))
    var (status, output) = try CLITests.redub(["bench", "media", "--frames", "10", "--width", "128", "--height", "96", "--crop-size", "64",
                                               "--min-time", "0.01", "--keep", path("clip.mp4")])
    XCTAssertEqual(status, 0, output)
    let corpus = SyntheticSpeechCorpus.make(speakers: 1, sentences: 1, angles: 1)
    let faces = corpus[0].landmarks.prefix(10).map { $0.map { $0 * 0.4 } }
    try SyntheticSpeechCorpus.writeLandmarks(faces, missing: [2], to: URL(fileURLWithPath: path("boxes.safetensors")), width: 128, height: 96)
    try SyntheticSpeechCorpus.writeLandmarks(Array(faces.prefix(9)), to: URL(fileURLWithPath: path("short.safetensors")), width: 128, height: 96)

    let run = try Self.redub(["eval", path("clip.mp4"), "--reference", path("clip.mp4"), "--models", models.path,
                              "--face-boxes", path("boxes.safetensors"), "--json", "--threads", "2"])
    XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
    let result = try Self.json(run.stdout)
    XCTAssertEqual(result["frames_without_landmarks"] as? [Int], [2])
    let frames = try XCTUnwrap(result["frames"] as? [[String: Any]])
    XCTAssertEqual(frames.compactMap { $0["f_ld"] as? Double }, Array(repeating: 0, count: 9), "the same frames through the same boxes")
    // face-alignment's quarter-pixel decoding, on request; anything else is refused by name.
    let quarter = try Self.redub(["eval", path("clip.mp4"), "--reference", path("clip.mp4"), "--models", models.path,
                                  "--face-boxes", path("boxes.safetensors"), "--landmark-decoding", "quarter-pixel", "--json", "--threads", "2"])
    XCTAssertEqual(quarter.status, 0, quarter.stdout + quarter.stderr)
    XCTAssertEqual(try Self.json(quarter.stdout)["frames_without_landmarks"] as? [Int], [2])
    (status, output) = try CLITests.redub(["eval", path("clip.mp4"), "--reference", path("clip.mp4"), "--models", models.path,
                                           "--face-boxes", path("boxes.safetensors"), "--landmark-decoding", "argmax"])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("'argmax'") && output.contains("--landmark-decoding"), output)

    (status, output) = try CLITests.redub(["eval", path("clip.mp4"), "--reference", path("clip.mp4"), "--face-boxes", path("boxes.safetensors")])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("--face-boxes measures landmarks with a FAN"), output)
    (status, output) = try CLITests.redub(["eval", path("clip.mp4"), "--reference", path("clip.mp4"), "--models", folder.path,
                                           "--face-boxes", path("boxes.safetensors")])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("--face-boxes needs fan.safetensors"), output)
    (status, output) = try CLITests.redub(["eval", path("clip.mp4"), "--reference", path("clip.mp4"), "--models", models.path,
                                           "--face-boxes", path("short.safetensors")])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("has landmarks for 9 frames"), output)
  }
}
