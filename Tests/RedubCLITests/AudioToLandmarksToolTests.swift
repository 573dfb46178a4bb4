import DemoWorld
import Dubbing
import Foundation
import Networks
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

/// `redub tools audio2landmarks`'s emotion options and `--allow-silence`.
///
/// The model `testTrainResumeAndPredict` trains (1 epoch per stage, 2 for the predictor, 8
/// training clips) leaves every face where the clip has it: the alignment network's output layer
/// starts at zero (pose in, pose out) and one epoch barely moves it, so its landmarks differ from
/// the clip's by ~1e-5 px whatever the audio or emotion (measured: `--emotion happy` vs
/// `neutral` 2e-6 px at the mouth corners, silence vs speech 2e-5 px of lip opening). Training
/// until the alignment passes expression through takes minutes here, far beyond a CLI test. So
/// these tests train that model once for the class, keep its trained emotion path (encoders,
/// classifier, each emotion's mean code), give the predictor's and the alignment's output layers
/// seeded weights so emotion and speech reach the landmarks, and check that the tool's output
/// for each option equals `AudioToLandmarksInference` run here with the emotion the option
/// names. That the trained model smiles when asked (corners up) is for a trained model to show:
/// `AudioToLandmarksTests` in DubbingTests trains one long enough.
final class AudioToLandmarksEmotionToolTests: XCTestCase {
  /// The model file and the corpus, made by the first test that asks.
  nonisolated(unsafe) static var shared: (folder: URL, model: String, clips: [SyntheticSpeechCorpus.Clip])?

  static func trained() throws -> (folder: URL, model: String, clips: [SyntheticSpeechCorpus.Clip]) {
    if let shared { return shared }
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-cli-a2l-emotion-\(UUID().uuidString)")
    let clips = SyntheticSpeechCorpus.make(speakers: 1, sentences: 2, angles: 2)
    try SyntheticSpeechCorpus.write(clips, to: folder.appendingPathComponent("data"), heldOutSentence: "1")
    let trainedModel = folder.appendingPathComponent("a2l-trained.safetensors")
    let (status, output) = try CLITests.redub(["train", "audio2landmarks", "--data", folder.appendingPathComponent("data").path,
                                               "--output", trainedModel.path, "--epochs", "1", "--predict-epochs", "2", "--batch-size", "4"])
    XCTAssertEqual(status, 0, output)
    let model = try AudioToLandmarksModel(contentsOf: trainedModel)
    for (i, layer) in [model.predictor.head.layers.last!, model.alignment.output.layers.last!].enumerated() {
      layer.weight.value = Tensor.randomNormal(layer.weight.shape, standardDeviation: 0.2, seed: 90 + UInt64(i))
    }
    let responsive = folder.appendingPathComponent("a2l.safetensors")
    try model.write(to: responsive)
    shared = (folder, responsive.path, clips)
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

  typealias Points = [[SIMD2<Double>]]

  /// Runs the tool; on success returns the landmarks [frames][68] in pixels.
  func predict(_ model: String, audio: String, landmarks: String, _ extra: [String], name: String) throws -> (status: Int32, output: String, points: Points) {
    let target = path(name)
    let (status, output) = try CLITests.redub(["tools", "audio2landmarks", "--model", model, "--audio", audio, "--landmarks", landmarks,
                                               "--output", target] + extra)
    guard status == 0 else { return (status, output, []) }
    let track = try LandmarkTrack(contentsOf: URL(fileURLWithPath: target))
    return (status, output, track.frames.map(\.points))
  }

  /// What the tool should give: the inference run here on the same files.
  func expected(_ model: String, audio: String, landmarks: String, emotion: AudioToLandmarksInference.Emotion, strength: Float = 1) throws -> Points {
    let network = try AudioToLandmarksModel(contentsOf: URL(fileURLWithPath: model))
    let track = try LandmarkTrack(contentsOf: URL(fileURLWithPath: landmarks))
    let windows = SpeechInput.windows(try SpeechInput.samples(path: audio), frames: track.frames.count, fps: track.frameRate)
    let inference = AudioToLandmarksInference(model: network)
    let code = try inference.emotionCode(emotion, dubWindows: windows, strength: strength)
    return inference.landmarks(dubWindows: windows, emotion: code, original: track.frames.map(\.points))
  }

  /// The emotion code of a recording, as `--emotion-audio` takes it.
  func emotionCode(_ model: String, of audio: String, fps: Double) throws -> [Float] {
    let samples = try SpeechInput.samples(path: audio)
    let inference = AudioToLandmarksInference(model: try AudioToLandmarksModel(contentsOf: URL(fileURLWithPath: model)))
    return inference.emotionCode(windows: SpeechInput.windows(samples, frames: max(1, SpeechInput.frameCount(samples, fps: fps)), fps: fps)).scalars
  }

  func distance(_ a: SIMD2<Double>, _ b: SIMD2<Double>) -> Double { ((a - b) * (a - b)).sum().squareRoot() }

  /// Mean distance per frame between the same landmarks of two predictions, in pixels.
  func meanShift(_ a: Points, _ b: Points, landmarks: [Int] = Array(0..<68)) -> Double {
    var total = 0.0
    for t in a.indices { for k in landmarks { total += distance(a[t][k], b[t][k]) } }
    return total / Double(a.count * landmarks.count)
  }

  /// The largest distance between the same landmarks of two predictions, in pixels.
  func maxShift(_ a: Points, _ b: Points) -> Double {
    zip(a, b).map { zip($0, $1).map { distance($0, $1) }.max() ?? 0 }.max() ?? .infinity
  }

  /// --emotion-audio takes the emotion from another recording (a happy one here): the landmarks
  /// are the inference's with that recording's emotion code, they differ from --emotion
  /// neutral's, and at strength 0 they are neutral's.
  func testEmotionFromAReferenceRecording() throws {
    let (_, model, clips) = try Self.trained()
    let landmarks = try inputs(clips)
    XCTAssertEqual([clips[0].emotion, clips[2].emotion], ["neutral", "happy"])
    XCTAssertEqual(clips[2].sentence, clips[0].sentence)
    let dub = try wav(clips[0].samples, "dub.wav"), reference = try wav(clips[2].samples, "happy.wav")
    let neutral = try predict(model, audio: dub, landmarks: landmarks, ["--emotion", "neutral"], name: "neutral.safetensors")
    XCTAssertEqual(neutral.status, 0, neutral.output)
    let referenced = try predict(model, audio: dub, landmarks: landmarks, ["--emotion-audio", reference], name: "ref.safetensors")
    XCTAssertEqual(referenced.status, 0, referenced.output)
    XCTAssertEqual(referenced.points.count, clips[0].landmarks.count)
    let code = try emotionCode(model, of: reference, fps: SyntheticSpeechCorpus.fps)
    let want = try expected(model, audio: dub, landmarks: landmarks, emotion: .reference(code))
    XCTAssertLessThan(maxShift(referenced.points, want), 1e-3, "the tool did not use the reference recording's emotion")
    let shift = meanShift(referenced.points, neutral.points)
    print("--emotion-audio happy.wav vs --emotion neutral: mean shift \(shift) px")
    // Float32 noise in these pixel coordinates is ~1e-5 px.
    XCTAssertGreaterThan(shift, 0.01, "the reference recording's emotion changed nothing")
    let none = try predict(model, audio: dub, landmarks: landmarks, ["--emotion-audio", reference, "--emotion-strength", "0"],
                           name: "ref0.safetensors")
    XCTAssertEqual(none.status, 0, none.output)
    XCTAssertLessThan(maxShift(none.points, neutral.points), 1e-3, "strength 0 is neutral")
    // Refused: both ways of choosing at once, and a reference that is not there.
    var refused = try predict(model, audio: dub, landmarks: landmarks, ["--emotion-audio", reference, "--emotion", "happy"], name: "x.safetensors")
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.output.contains("give --emotion or --emotion-audio, not both"), refused.output)
    refused = try predict(model, audio: dub, landmarks: landmarks, ["--emotion-audio", path("missing.wav")], name: "x.safetensors")
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.output.contains("missing.wav"), refused.output)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.safetensors")))
  }

  /// A silent dub is refused by default; with --allow-silence it gives finite landmarks for
  /// every frame — the inference's for silent windows, which differ from those for speech.
  func testAllowSilenceAcceptsASilentDub() throws {
    let (_, model, clips) = try Self.trained()
    let landmarks = try inputs(clips)
    let frames = clips[0].landmarks.count
    let silent = try wav([Float](repeating: 0, count: frames * 16_000 / 25), "silent.wav")
    let refused = try predict(model, audio: silent, landmarks: landmarks, [], name: "refused.safetensors")
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.output.contains("the audio is silent"), refused.output)
    XCTAssertTrue(refused.output.contains("pass --allow-silence"), refused.output)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("refused.safetensors")))
    let quiet = try predict(model, audio: silent, landmarks: landmarks, ["--allow-silence"], name: "quiet.safetensors")
    XCTAssertEqual(quiet.status, 0, quiet.output)
    XCTAssertFalse(quiet.output.contains("note:"), "a dub as long as the clip needs no padding: \(quiet.output)")
    XCTAssertEqual(quiet.points.count, frames)
    XCTAssertTrue(quiet.points.joined().allSatisfy { $0.x.isFinite && $0.y.isFinite }, "silence gave non-finite landmarks")
    XCTAssertLessThan(maxShift(quiet.points, try expected(model, audio: silent, landmarks: landmarks, emotion: .auto)), 1e-3)
    let speech = try predict(model, audio: try wav(clips[0].samples, "dub.wav"), landmarks: landmarks, [], name: "speech.safetensors")
    XCTAssertEqual(speech.status, 0, speech.output)
    print("silence vs speech: mean shift \(meanShift(quiet.points, speech.points)) px")
    XCTAssertGreaterThan(meanShift(quiet.points, speech.points), 0.05, "silence and speech gave the same face")
  }

  /// --emotion happy at full strength: the landmarks are the inference's with happy's mean code,
  /// and the mouth corners (48, 54) sit elsewhere than --emotion neutral puts them; at strength
  /// 0.5 they move part of the way.
  func testHappyMovesTheMouthCorners() throws {
    let (_, model, clips) = try Self.trained()
    let landmarks = try inputs(clips)
    let dub = try wav(clips[0].samples, "dub.wav")
    let neutral = try predict(model, audio: dub, landmarks: landmarks, ["--emotion", "neutral"], name: "neutral.safetensors")
    XCTAssertEqual(neutral.status, 0, neutral.output)
    let happy = try predict(model, audio: dub, landmarks: landmarks, ["--emotion", "happy", "--emotion-strength", "1"], name: "happy.safetensors")
    XCTAssertEqual(happy.status, 0, happy.output)
    XCTAssertLessThan(maxShift(happy.points, try expected(model, audio: dub, landmarks: landmarks, emotion: .named("happy"))), 1e-3)
    let corners = meanShift(happy.points, neutral.points, landmarks: [48, 54])
    let half = try predict(model, audio: dub, landmarks: landmarks, ["--emotion", "happy", "--emotion-strength", "0.5"], name: "half.safetensors")
    XCTAssertEqual(half.status, 0, half.output)
    let halfCorners = meanShift(half.points, neutral.points, landmarks: [48, 54])
    print("happy vs neutral: mouth corners move \(corners) px (strength 0.5: \(halfCorners) px)")
    // Float32 noise in these pixel coordinates is ~1e-5 px.
    XCTAssertGreaterThan(corners, 0.01, "happy left the mouth corners where neutral puts them")
    XCTAssertGreaterThan(halfCorners, 0.2 * corners)
    XCTAssertLessThan(halfCorners, corners, "half the strength, less of the move")
  }

  /// --speaker-audio: the targets are the inference's with the speaker offsets from that
  /// recording; dubbing the clip with its own speech, calibration brings the mouth closer to the
  /// clip's own (the model's bias on this speaker removed); a silent recording is refused.
  func testSpeakerAudioCalibratesTheTargets() throws {
    let (_, model, clips) = try Self.trained()
    let landmarks = try inputs(clips)
    let own = try wav(clips[0].samples, "own.wav")
    let plain = try predict(model, audio: own, landmarks: landmarks, [], name: "plain.safetensors")
    XCTAssertEqual(plain.status, 0, plain.output)
    let calibrated = try predict(model, audio: own, landmarks: landmarks, ["--speaker-audio", own], name: "calibrated.safetensors")
    XCTAssertEqual(calibrated.status, 0, calibrated.output)
    XCTAssertTrue(calibrated.output.contains("calibrated to the speaker"), calibrated.output)
    let network = try AudioToLandmarksModel(contentsOf: URL(fileURLWithPath: model))
    let track = try LandmarkTrack(contentsOf: URL(fileURLWithPath: landmarks))
    let windows = SpeechInput.windows(try SpeechInput.samples(path: own), frames: track.frames.count, fps: track.frameRate)
    let inference = AudioToLandmarksInference(model: network)
    let original = track.frames.map(\.points)
    let offsets = inference.speakerOffsets(ownWindows: windows, original: original, faceFound: track.frames.map(\.faceFound))
    let want = inference.landmarks(dubWindows: windows, emotion: inference.emotionCode(windows: windows), original: original,
                                   speakerOffsets: offsets)
    XCTAssertLessThan(maxShift(calibrated.points, want), 1e-3, "the tool did not apply the speaker offsets")
    let mouth = Array(48..<68)
    let before = meanShift(plain.points, original, landmarks: mouth), after = meanShift(calibrated.points, original, landmarks: mouth)
    print("own speech, mouth to the clip's: \(before) px uncalibrated, \(after) px calibrated")
    XCTAssertLessThan(after, before, "calibrating on the speaker's own speech did not bring the mouth closer")
    let silent = try wav([Float](repeating: 0, count: 16_000), "silent.wav")
    let refused = try predict(model, audio: own, landmarks: landmarks, ["--speaker-audio", silent], name: "refused.safetensors")
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.output.contains("silent"), refused.output)
  }
}
