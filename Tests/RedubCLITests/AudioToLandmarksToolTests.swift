import DemoWorld
import Foundation
import Tensors
import XCTest

/// `redub train audio2landmarks` and `redub tools audio2landmarks` as a user runs them, on a
/// small synthetic corpus written in the documented dataset layout.
final class AudioToLandmarksToolTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("redub-cli-a2l-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    if ProcessInfo.processInfo.environment["REDUB_KEEP_TEST_FILES"] == nil { try? FileManager.default.removeItem(at: directory) }
  }

  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  func testTrainResumeAndPredict() throws {
    let clips = SyntheticSpeechCorpus.make(speakers: 1, sentences: 2, angles: 2)
    let data = directory.appendingPathComponent("data")
    try SyntheticSpeechCorpus.write(clips, to: data, heldOutSentence: "1")
    let model = path("a2l.safetensors"), checkpoint = path("a2l.checkpoint.safetensors")

    // Interrupt a long run once it has saved a checkpoint, then resume it.
    let process = Process()
    process.executableURL = CLITests.executable
    process.arguments = ["train", "audio2landmarks", "--data", data.path, "--output", model, "--epochs", "500", "--batch-size", "4"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(60)
    while !FileManager.default.fileExists(atPath: checkpoint) && Date() < deadline && process.isRunning { usleep(50_000) }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    XCTAssertTrue(FileManager.default.fileExists(atPath: checkpoint), "no checkpoint after an epoch")
    XCTAssertFalse(FileManager.default.fileExists(atPath: model))

    var (status, output) = try CLITests.redub(["train", "audio2landmarks", "--data", data.path, "--output", model, "--epochs", "1",
                                               "--predict-epochs", "2", "--batch-size", "4", "--resume"])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("resuming at disentangle epoch"), output)
    XCTAssertTrue(output.contains("dataset: 8 training and 8 validation clips"), output)
    XCTAssertTrue(output.contains("predict epoch 2/2: training"), output)
    XCTAssertTrue(output.contains(", validation "), output)
    XCTAssertTrue(output.contains("validation clips: landmark error"), output)
    XCTAssertFalse(FileManager.default.fileExists(atPath: checkpoint), "the checkpoint outlives a finished run")

    // Inference on a clip of the corpus, with frames 3–5 without a face.
    let clip = clips[0]
    let landmarks = path("orig.safetensors"), dub = path("dub.wav"), target = path("target.safetensors")
    try SyntheticSpeechCorpus.writeLandmarks(clip.landmarks, missing: [3, 4, 5], to: URL(fileURLWithPath: landmarks))
    try SyntheticSpeechCorpus.wav(clips[4].samples).write(to: URL(fileURLWithPath: dub))
    (status, output) = try CLITests.redub(["tools", "audio2landmarks", "--model", model, "--audio", dub, "--landmarks", landmarks,
                                           "--output", target])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("emotion heard in the dub: neutral"), output)
    XCTAssertTrue(output.contains("no face (left unedited) in 3–5"), output)
    let file = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: target))
    XCTAssertEqual(try file.tensor("landmarks").shape, [clip.landmarks.count, 68, 2])
    let found = try file.tensor("face_found").scalars
    XCTAssertEqual(found[2], 1)
    XCTAssertEqual(found[3...5].map { $0 }, [0, 0, 0])
    XCTAssertTrue(try file.tensor("landmarks").scalars.allSatisfy(\.isFinite))

    // A 44.1 kHz stereo-free dub is resampled; named emotions and strengths are accepted.
    let dub44 = path("dub44.wav")
    try SyntheticSpeechCorpus.wav(resample(clips[4].samples, factor: 44_100.0 / 16_000), rate: 44_100).write(to: URL(fileURLWithPath: dub44))
    (status, output) = try CLITests.redub(["tools", "audio2landmarks", "--model", model, "--audio", dub44, "--landmarks", landmarks,
                                           "--emotion", "happy", "--emotion-strength", "0.5", "--output", target])
    XCTAssertEqual(status, 0, output)

    // Bad input: clear errors, nothing written.
    let silent = path("silent.wav"), empty = path("empty.wav"), short = path("short.wav"), refused = path("refused.safetensors")
    try SyntheticSpeechCorpus.wav([Float](repeating: 0, count: 32_000)).write(to: URL(fileURLWithPath: silent))
    try SyntheticSpeechCorpus.wav([]).write(to: URL(fileURLWithPath: empty))
    try SyntheticSpeechCorpus.wav(Array(clips[4].samples.prefix(8_000))).write(to: URL(fileURLWithPath: short))
    for (arguments, message) in [
      (["--audio", silent], "the audio is silent"),
      (["--audio", empty], "empty.wav"),
      (["--audio", short, "--audio-length", "error"], "use --audio-length fit"),
      (["--audio", dub, "--emotion", "bored"], "unknown emotion 'bored'"),
      (["--audio", dub, "--emotion-strength", "2"], "--emotion-strength must be in 0…1"),
    ] {
      (status, output) = try CLITests.redub(["tools", "audio2landmarks", "--model", model, "--landmarks", landmarks,
                                             "--output", refused] + arguments)
      XCTAssertNotEqual(status, 0, output)
      XCTAssertTrue(output.contains(message), "\(arguments): \(output)")
      XCTAssertFalse(FileManager.default.fileExists(atPath: refused))
    }
    (status, output) = try CLITests.redub(["tools", "audio2landmarks", "--model", model, "--landmarks", landmarks, "--audio", short,
                                           "--output", refused])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("padding the dub with silence"), output)
    (status, output) = try CLITests.redub(["train", "audio2landmarks", "--data", path("nothing"), "--output", model])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("is not a readable folder"), output)
  }

  /// Linear-interpolation resampling (the test only needs a file at another rate).
  private func resample(_ x: [Float], factor: Double) -> [Float] {
    (0..<Int(Double(x.count) * factor)).map { i in
      let p = Double(i) / factor, j = Int(p), w = Float(p - Double(j))
      return j + 1 < x.count ? x[j] * (1 - w) + x[j + 1] * w : x[x.count - 1]
    }
  }
}
