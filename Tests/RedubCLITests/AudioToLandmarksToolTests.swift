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

/// `redub tools audio2landmarks`'s emotion options and `--allow-silence`, on one model trained
/// briefly (as `testTrainResumeAndPredict` trains it) once for the whole class.
final class AudioToLandmarksEmotionToolTests: XCTestCase {
  /// The trained model and the corpus it was trained on, made by the first test that asks.
  nonisolated(unsafe) static var shared: (folder: URL, model: String, clips: [SyntheticSpeechCorpus.Clip])?

  static func trained() throws -> (folder: URL, model: String, clips: [SyntheticSpeechCorpus.Clip]) {
    if let shared { return shared }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-cli-a2l-emotion-\(UUID().uuidString)")
    let clips = SyntheticSpeechCorpus.make(speakers: 1, sentences: 2, angles: 2)
    try SyntheticSpeechCorpus.write(clips, to: folder.appendingPathComponent("data"), heldOutSentence: "1")
    let model = folder.appendingPathComponent("a2l.safetensors").path
    let (status, output) = try CLITests.redub(["train", "audio2landmarks", "--data", folder.appendingPathComponent("data").path,
                                               "--output", model, "--epochs", "1", "--predict-epochs", "2", "--batch-size", "4"])
    XCTAssertEqual(status, 0, output)
    shared = (folder, model, clips)
    return shared!
  }

  override class func tearDown() {
    if let shared, ProcessInfo.processInfo.environment["REDUB_KEEP_TEST_FILES"] == nil {
      try? FileManager.default.removeItem(at: shared.folder)
    }
    shared = nil
    super.tearDown()
  }

  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("redub-cli-a2l-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    if ProcessInfo.processInfo.environment["REDUB_KEEP_TEST_FILES"] == nil { try? FileManager.default.removeItem(at: directory) }
  }

  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  /// The landmarks of the clip every run dubs (sentence 0, neutral, front).
  func inputs(_ clips: [SyntheticSpeechCorpus.Clip]) throws -> String {
    let landmarks = path("orig.safetensors")
    try SyntheticSpeechCorpus.writeLandmarks(clips[0].landmarks, to: URL(fileURLWithPath: landmarks))
    return landmarks
  }

  func wav(_ samples: [Float], _ name: String) throws -> String {
    try SyntheticSpeechCorpus.wav(samples).write(to: URL(fileURLWithPath: path(name)))
    return path(name)
  }

  /// Runs the tool; on success returns the landmarks [frames][68] in pixels.
  func predict(_ model: String, audio: String, landmarks: String, _ extra: [String], name: String) throws -> (status: Int32, output: String, points: [[SIMD2<Double>]]) {
    let target = path(name)
    let (status, output) = try CLITests.redub(["tools", "audio2landmarks", "--model", model, "--audio", audio, "--landmarks", landmarks,
                                               "--output", target] + extra)
    guard status == 0 else { return (status, output, []) }
    let tensor = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: target)).tensor("landmarks")
    let v = tensor.scalars.map(Double.init)
    let frames = tensor.shape[0]
    return (status, output, (0..<frames).map { t in (0..<68).map { k in SIMD2(v[(t * 68 + k) * 2], v[(t * 68 + k) * 2 + 1]) } })
  }

  func distance(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double { ((a - b) * (a - b)).sum().squareRoot() }

  /// Mean distance per frame between the same landmarks of two predictions, in pixels.
  func meanShift(_ a: [[SIMD2<Double>]], _ b: [[SIMD2<Double>]], landmarks: [Int]) -> Double {
    var total = 0.0
    for t in a.indices { for k in landmarks { total += distance(a[t][k], b[t][k]) } }
    return total / Double(a.count * landmarks.count)
  }

  /// --emotion-audio takes the emotion from another recording (a happy one here): the landmarks
  /// differ from --emotion neutral's, and at strength 0 they are neutral's exactly.
  func testEmotionFromAReferenceRecording() throws {
    let (_, model, clips) = try Self.trained()
    let landmarks = try inputs(clips)
    XCTAssertEqual(clips[0].emotion, "neutral")
    XCTAssertEqual(clips[2].emotion, "happy")
    XCTAssertEqual(clips[2].sentence, clips[0].sentence)
    let dub = try wav(clips[0].samples, "dub.wav"), reference = try wav(clips[2].samples, "happy.wav")
    let neutral = try predict(model, audio: dub, landmarks: landmarks, ["--emotion", "neutral"], name: "neutral.safetensors")
    XCTAssertEqual(neutral.status, 0, neutral.output)
    let referenced = try predict(model, audio: dub, landmarks: landmarks, ["--emotion-audio", reference], name: "ref.safetensors")
    XCTAssertEqual(referenced.status, 0, referenced.output)
    XCTAssertEqual(referenced.points.count, clips[0].landmarks.count)
    XCTAssertTrue(referenced.points.joined().allSatisfy { $0.x.isFinite && $0.y.isFinite })
    let shift = meanShift(referenced.points, neutral.points, landmarks: Array(0..<68))
    print("--emotion-audio happy.wav vs --emotion neutral: mean shift \(shift) px")
    XCTAssertGreaterThan(shift, 0.05, "the reference recording's emotion changed nothing")
    let none = try predict(model, audio: dub, landmarks: landmarks, ["--emotion-audio", reference, "--emotion-strength", "0"],
                           name: "ref0.safetensors")
    XCTAssertEqual(none.status, 0, none.output)
    XCTAssertLessThan(meanShift(none.points, neutral.points, landmarks: Array(0..<68)), 1e-3, "strength 0 is neutral")
    // Refused: both ways of choosing at once, and a reference that is not there.
    var refused = try predict(model, audio: dub, landmarks: landmarks, ["--emotion-audio", reference, "--emotion", "happy"], name: "x.safetensors")
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.output.contains("give --emotion or --emotion-audio, not both"), refused.output)
    refused = try predict(model, audio: dub, landmarks: landmarks, ["--emotion-audio", path("missing.wav")], name: "x.safetensors")
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.output.contains("missing.wav"), refused.output)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.safetensors")))
  }

  /// A silent dub is refused by default and accepted with --allow-silence, giving finite
  /// landmarks for every frame with the mouth no more open than speech gives it.
  func testAllowSilenceAcceptsASilentDub() throws {
    let (_, model, clips) = try Self.trained()
    let landmarks = try inputs(clips)
    let frames = clips[0].landmarks.count
    let silent = try wav([Float](repeating: 0, count: frames * 16_000 / 25), "silent.wav")
    let refused = try predict(model, audio: silent, landmarks: landmarks, [], name: "refused.safetensors")
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.output.contains("the audio is silent"), refused.output)
    let quiet = try predict(model, audio: silent, landmarks: landmarks, ["--allow-silence"], name: "quiet.safetensors")
    XCTAssertEqual(quiet.status, 0, quiet.output)
    XCTAssertFalse(quiet.output.contains("note:"), "a dub as long as the clip needs no padding: \(quiet.output)")
    XCTAssertEqual(quiet.points.count, frames)
    XCTAssertTrue(quiet.points.joined().allSatisfy { $0.x.isFinite && $0.y.isFinite }, "silence gave non-finite landmarks")
    let speech = try predict(model, audio: try wav(clips[0].samples, "dub.wav"), landmarks: landmarks, [], name: "speech.safetensors")
    XCTAssertEqual(speech.status, 0, speech.output)
    // Inner-lip opening (62 ↔ 66) over the clip.
    func opening(_ p: [[SIMD2<Double>]]) -> Double { p.map { distance($0[62], $0[66]) }.reduce(0, +) / Double(p.count) }
    print("mean inner-lip opening: silence \(opening(quiet.points)) px, speech \(opening(speech.points)) px")
    XCTAssertLessThan(opening(quiet.points), opening(speech.points), "silence should not open the mouth more than speech")
  }

  /// --emotion happy at full strength moves the mouth corners (48, 54) away from where
  /// --emotion neutral puts them, and more than it moves the nose (27–35), which emotion does
  /// not drive in the corpus.
  func testHappyMovesTheMouthCorners() throws {
    let (_, model, clips) = try Self.trained()
    let landmarks = try inputs(clips)
    let dub = try wav(clips[0].samples, "dub.wav")
    let neutral = try predict(model, audio: dub, landmarks: landmarks, ["--emotion", "neutral"], name: "neutral.safetensors")
    XCTAssertEqual(neutral.status, 0, neutral.output)
    let happy = try predict(model, audio: dub, landmarks: landmarks, ["--emotion", "happy", "--emotion-strength", "1"], name: "happy.safetensors")
    XCTAssertEqual(happy.status, 0, happy.output)
    let corners = meanShift(happy.points, neutral.points, landmarks: [48, 54])
    let nose = meanShift(happy.points, neutral.points, landmarks: Array(27...35))
    // In image coordinates (y down) a smile lifts the corners: happy's y minus neutral's.
    let lift = happy.points.indices.map { t in [48, 54].map { neutral.points[t][$0].y - happy.points[t][$0].y }.reduce(0, +) / 2 }
      .reduce(0, +) / Double(happy.points.count)
    print("happy vs neutral: corners move \(corners) px (lifted \(lift) px), nose \(nose) px")
    XCTAssertGreaterThan(corners, 0.05, "happy left the mouth corners where neutral puts them")
    XCTAssertGreaterThan(corners, nose, "the corners should move more than the nose")
  }
}
