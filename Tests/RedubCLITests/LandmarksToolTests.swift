import Foundation
import Networks
import Tensors
import XCTest

/// `redub tools landmarks` on a real clip with small S3FD and FAN weights the test makes:
/// one detector that sees a face everywhere and one that sees none.
final class LandmarksToolTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("redub-cli-landmarks-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  func redub(_ arguments: [String]) throws -> (status: Int32, output: String) { try CLITests.redub(arguments) }

  /// S3FD whose classification biases make every location a face (or none).
  func writeDetector(_ name: String, faces: Bool) throws -> String {
    let network = S3FD()
    for (key, parameter) in network.namedParameters where key.hasSuffix("_mbox_conf.bias") {
      var bias = [Float](repeating: faces ? 0 : 10, count: parameter.shape[0])
      bias[bias.count - 1] = faces ? 10 : -10
      parameter.value = Tensor(bias, shape: parameter.shape)
    }
    try SafeTensors.write(network.stateDictionary(), to: directory.appendingPathComponent(name))
    return path(name)
  }

  func testLandmarksOverAClip() throws {
    let clip = path("clip.mp4")
    var (status, output) = try redub(["bench", "media", "--frames", "10", "--width", "128", "--height", "96",
                                      "--crop-size", "64", "--min-time", "0.01", "--keep", clip])
    XCTAssertEqual(status, 0, output)
    let fan = path("fan.safetensors")
    try SafeTensors.write(FAN(modules: 1).stateDictionary(), to: URL(fileURLWithPath: fan))
    let faces = try writeDetector("faces.safetensors", faces: true)
    let none = try writeDetector("none.safetensors", faces: false)

    // A face on every frame. FAN with zero weights puts all 68 points on one pixel, which
    // cannot give the next crop, so the detector runs on every frame.
    let out = path("l.safetensors")
    (status, output) = try redub(["tools", "landmarks", clip, "--detector", faces, "--fan", fan, "--frames", "6",
                                  "--minimum-score", "0", "--output", out])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("6 frames, 6 with a face; the detector ran on 6"), output)
    var file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: out))
    XCTAssertEqual(try file.tensor("landmarks").shape, [6, 68, 2])
    XCTAssertEqual(try file.tensor("face_found").scalars, [1, 1, 1, 1, 1, 1])
    XCTAssertEqual(try file.tensor("source").scalars, [1, 1, 1, 1, 1, 1])
    XCTAssertEqual(file.metadata["width"], "128")
    XCTAssertEqual(file.metadata["frame_rate"], "25.0")

    // No face anywhere: skip reports every frame and writes zeros; fail writes nothing.
    (status, output) = try redub(["tools", "landmarks", clip, "--detector", none, "--fan", fan, "--frames", "6", "--output", out])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("no face in frame(s) 0–5"), output)
    file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: out))
    XCTAssertEqual(try file.tensor("face_found").scalars, [0, 0, 0, 0, 0, 0])
    XCTAssertEqual(Set(try file.tensor("landmarks").scalars), [0])

    let failed = path("failed.safetensors")
    (status, output) = try redub(["tools", "landmarks", clip, "--detector", none, "--fan", fan, "--frames", "6",
                                  "--on-missing-face", "fail", "--output", failed])
    XCTAssertEqual(status, 1, output)
    XCTAssertTrue(output.contains("No face found in 6 frame(s): 0–5"), output)
    XCTAssertFalse(FileManager.default.fileExists(atPath: failed))

    // Bad input is a named error, not a crash.
    (status, output) = try redub(["tools", "landmarks", path("missing.mp4"), "--detector", none, "--fan", fan, "--output", out])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("missing.mp4"), output)
    (status, output) = try redub(["tools", "landmarks", clip, "--detector", fan, "--fan", fan, "--output", out])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("cannot load S3FD weights from \(fan)"), output)
  }

  /// scripts/prepare_dataset on a MEAD-shaped tree: one clip folder per video with its
  /// landmarks and a clip.json naming the audio, emotion, speaker, sentence and angle.
  func testPrepareDatasetReadsMEADLayout() throws {
    let root = directory.appendingPathComponent("MEAD")
    let videoFolder = root.appendingPathComponent("M003/video/front/happy/level_1")
    let audioFolder = root.appendingPathComponent("M003/audio/happy/level_1")
    try FileManager.default.createDirectory(at: videoFolder, withIntermediateDirectories: true)
    try FileManager.default.createDirectory(at: audioFolder, withIntermediateDirectories: true)
    var (status, output) = try redub(["bench", "media", "--frames", "10", "--width", "128", "--height", "96", "--crop-size", "64",
                                      "--min-time", "0.01", "--keep", videoFolder.appendingPathComponent("001.mp4").path])
    XCTAssertEqual(status, 0, output)
    try Data("not really audio".utf8).write(to: audioFolder.appendingPathComponent("001.m4a"))
    let fan = path("fan.safetensors")
    try SafeTensors.write(FAN(modules: 1).stateDictionary(), to: URL(fileURLWithPath: fan))
    let detector = try writeDetector("faces.safetensors", faces: true)
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("scripts/prepare_dataset")
    let out = directory.appendingPathComponent("data")
    func prepare() throws -> (Int32, String) {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: "/bin/bash")
      process.arguments = [script.path, "--detector", detector, "--fan", fan, "--out", out.path, "--mead", root.path,
                           "--validation-speakers", "M003", "--redub", CLITests.executable.path]
      let pipe = Pipe()
      process.standardOutput = pipe
      process.standardError = pipe
      try process.run()
      let data = pipe.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
    (status, output) = try prepare()
    XCTAssertEqual(status, 0, output)
    let clip = out.appendingPathComponent("M003_front_happy_level_1_001")
    let description = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: clip.appendingPathComponent("clip.json"))) as? [String: String])
    XCTAssertEqual(description["emotion"], "happy")
    XCTAssertEqual(description["speaker"], "M003")
    XCTAssertEqual(description["sentence"], "001")
    XCTAssertEqual(description["angle"], "front")
    XCTAssertEqual(description["split"], "validation")
    XCTAssertEqual(description["audio"], audioFolder.appendingPathComponent("001.m4a").path)
    XCTAssertEqual(try SafeTensorsFile(contentsOf: clip.appendingPathComponent("landmarks.safetensors")).tensor("landmarks").shape, [10, 68, 2])
    // A second run finds the clip done and leaves it.
    (status, output) = try prepare()
    XCTAssertEqual(status, 0, output)
    XCTAssertFalse(output.contains("prepare_dataset: M003"), output)
    XCTAssertTrue(output.contains("1 clips in"), output)
  }
}
