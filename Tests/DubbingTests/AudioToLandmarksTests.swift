import DemoWorld
import Foundation
import Networks
import Tensors
import TestSupport
import XCTest

@testable import Dubbing

final class AudioToLandmarksTests: XCTestCase {
  /// Trains all three stages on the synthetic corpus (one sentence held out) and checks what the
  /// issue asks: held-out landmark error below half the mean face's, emotion well above chance,
  /// aligned landmarks in the pose of the clip they were aligned to.
  func testTrainingOnTheSyntheticCorpusLearnsMouthEmotionAndPose() throws {
    let clips = SyntheticSpeechCorpus.make()
    let dataset = try SyntheticSpeechCorpus.dataset(clips, heldOutSentence: "5")
    var configuration = AudioToLandmarksConfiguration()
    configuration.emotions = dataset.emotions
    let model = AudioToLandmarksModel(configuration: configuration)
    var settings = AudioToLandmarksTrainer.Settings()
    settings.epochs = [.disentangle: 30, .align: 8, .predict: 40]
    settings.batchSize = 4
    var trainer = try AudioToLandmarksTrainer(model: model, dataset: dataset, settings: settings)
    trainer.fitStandardization()
    let start = ContinuousClock.now
    var reports: [AudioToLandmarksTrainer.EpochReport] = []
    for stage in AudioToLandmarksTrainer.Stage.allCases {
      try trainer.train(stage, report: { reports.append($0) })
    }
    let elapsed = ContinuousClock.now - start
    for stage in AudioToLandmarksTrainer.Stage.allCases {
      let losses = reports.filter { $0.stage == stage }
      print("\(stage): training \(losses.first!.trainingLoss) → \(losses.last!.trainingLoss), validation \(losses.last!.validationLoss ?? -1), "
        + "\(losses.last!.terms), \(losses.map(\.seconds).reduce(0, +)) s")
      XCTAssertLessThan(losses.last!.trainingLoss, losses.first!.trainingLoss, "\(stage) did not learn")
      XCTAssertNotNil(losses.last!.validationLoss)
    }
    let heldOut = AudioToLandmarksEvaluation(model: model, clips: dataset.validation)
    print("held out (\(dataset.validation.count) clips, trained in \(elapsed)): \(heldOut)")
    XCTAssertLessThan(heldOut.landmarkError, 0.5 * heldOut.meanFaceError, "\(heldOut)")
    XCTAssertGreaterThan(heldOut.emotionAccuracy, 0.6, "chance is 0.25: \(heldOut)")
    // The alignment puts the faces where the clip's head is: far closer than ignoring its motion.
    XCTAssertLessThan(heldOut.alignedPixelError, 0.5 * heldOut.unalignedPixelError, "\(heldOut)")

    // Alignment: a face from one clip aligned to another clip's frame takes that frame's pose.
    let front = dataset.validation.first { $0.angle == "front" }!, side = dataset.validation.first { $0.angle == "side" && $0.speaker == front.speaker }!
    let t = 10
    let query = [front.canonical[t]].landmarkTensor()
    let pose = [side.normalized(t + 5)].landmarkTensor()
    let aligned = model.alignment(predicted: query, pose: pose).scalars
    let alignedPixels = (0..<68).map { SIMD2(Double(aligned[2 * $0]), Double(aligned[2 * $0 + 1])) * side.clipFrame.size + side.clipFrame.center }
    let alignedPose = LandmarkGeometry.pose(of: alignedPixels), sidePose = side.poses[t + 5], frontPose = front.poses[t]
    print("aligned pose \(alignedPose), side \(sidePose), front \(frontPose)")
    XCTAssertLessThan(simdLengthSquared(alignedPose.translation - sidePose.translation).squareRoot(),
                      0.2 * simdLengthSquared(frontPose.translation - sidePose.translation).squareRoot())
    XCTAssertEqual(alignedPose.angle, sidePose.angle, accuracy: 0.3 * abs(frontPose.angle - sidePose.angle) + 0.01)
    XCTAssertEqual(alignedPose.scale / sidePose.scale, 1, accuracy: 0.1)
  }

  /// An untrained model on one speaker's two sentences, one epoch a stage, standardization fitted.
  private func oneEpochTrainer(_ settings: AudioToLandmarksTrainer.Settings) throws -> AudioToLandmarksTrainer {
    let clips = SyntheticSpeechCorpus.make(speakers: 1, sentences: 2, angles: 1)
    let dataset = try SyntheticSpeechCorpus.dataset(clips, heldOutSentence: "1")
    var configuration = AudioToLandmarksConfiguration()
    configuration.emotions = dataset.emotions.count >= 2 ? dataset.emotions : dataset.emotions + ["other"]
    var settings = settings
    settings.epochs = [.disentangle: 1, .align: 1, .predict: 1]
    var trainer = try AudioToLandmarksTrainer(model: AudioToLandmarksModel(configuration: configuration), dataset: dataset, settings: settings)
    trainer.fitStandardization()
    return trainer
  }

  /// A checkpoint from a longer run resumed with fewer epochs finishes the stage instead of
  /// crashing (CI caught `startEpoch > epochs` trapping on the range).
  func testResumingPastTheRequestedEpochsFinishesTheStage() throws {
    var trainer = try oneEpochTrainer(AudioToLandmarksTrainer.Settings())
    var epochs: [Int] = [], checkpoints: [Int] = []
    try trainer.train(.disentangle, startEpoch: 3, report: { epochs.append($0.epoch) }, checkpoint: { checkpoints.append($1) })
    XCTAssertEqual(epochs, [])
    XCTAssertEqual(checkpoints, [])
    try trainer.train(.disentangle, startEpoch: 0, report: { epochs.append($0.epoch) }, checkpoint: { checkpoints.append($1) })
    XCTAssertEqual(epochs, [1])
    XCTAssertEqual(checkpoints, [1])
  }

  /// The predictor's motion term is reported and enters the loss with its weight.
  func testVelocityTermEntersThePredictorLoss() throws {
    var settings = AudioToLandmarksTrainer.Settings()
    settings.velocityLossWeight = 2
    var trainer = try oneEpochTrainer(settings)
    var reports: [AudioToLandmarksTrainer.EpochReport] = []
    try trainer.train(.predict, report: { reports.append($0) })
    let report = try XCTUnwrap(reports.last)
    let velocity = try XCTUnwrap(report.terms["velocity"]), aligned = report.terms["aligned"]!, canonical = report.terms["canonical"]!
    XCTAssertGreaterThan(velocity, 0)
    XCTAssertEqual(report.trainingLoss, Double(trainer.settings.alignedLossWeight) * aligned + canonical + 2 * velocity,
                   accuracy: 1e-4 * report.trainingLoss)
  }

  func testAttentionAndPredictorGradients() {
    var configuration = AudioToLandmarksConfiguration()
    configuration.tokenSize = 4
    configuration.hiddenSize = 6
    configuration.contentSize = 3
    configuration.emotionSize = 2
    configuration.speakerSize = 2
    let attention = CrossAttention(width: 4, seed: 3)
    let check = GradientCheck(epsilon: 1e-2, maxElementsPerInput: 24)
    let q = Tensor.randomNormal([2, 3, 4], seed: 1), k = Tensor.randomNormal([2, 5, 4], seed: 2)
    let result = check.run([q, k]) { attention(queries: $0[0], keys: $0[1]).squared().sum() }
    XCTAssertLessThan(result.worst, 1e-2, "\(result)")
    let parameterCheck = check.run([attention.query.weight.value, attention.key.weight.value, attention.value.weight.value]) { w in
      let (qw, kw, vw) = (w[0], w[1], w[2])
      let qq = Tensor.linear(q, weight: qw), kk = Tensor.linear(k, weight: kw), vv = Tensor.linear(k, weight: vw)
      let weights = (Tensor.matmul(qq, kk, transposeB: true) * 0.5).softmax(axis: -1)
      return Tensor.matmul(weights, vv).squared().sum()
    }
    XCTAssertLessThan(parameterCheck.worst, 1e-2, "\(parameterCheck)")

    // The predictor (LSTM inside) and the alignment network, to their inputs.
    let predictor = LandmarkPredictor(configuration: configuration, seed: 4)
    for layer in predictor.head.layers { layer.weight.value = .randomNormal(layer.weight.shape, standardDeviation: 0.3, seed: 9) }
    let content = Tensor.randomNormal([2, 4, 3], seed: 5), emotion = Tensor.randomNormal([2, 2], seed: 6)
    let reference = Tensor.randomNormal([2, 68, 2], seed: 7)
    let predictorCheck = check.run([content, emotion]) {
      predictor(content: $0[0], emotion: $0[1], reference: reference).squared().mean()
    }
    XCTAssertLessThan(predictorCheck.worst, 1e-2, "\(predictorCheck)")
    let alignment = PoseAlignment(configuration: configuration, seed: 8)
    let last = alignment.output.layers[1]
    last.weight.value = .randomNormal(last.weight.shape, standardDeviation: 0.3, seed: 10)
    let alignmentCheck = check.run([Tensor.randomNormal([2, 68, 2], seed: 11), Tensor.randomNormal([2, 68, 2], seed: 12)]) {
      alignment(predicted: $0[0], pose: $0[1]).squared().mean()
    }
    XCTAssertLessThan(alignmentCheck.worst, 1e-2, "\(alignmentCheck)")
  }

  func testModelSavesAndLoadsStrictly() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-a2l-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    var configuration = AudioToLandmarksConfiguration()
    configuration.emotions = ["neutral", "happy", "sad"]
    configuration.hiddenSize = 32
    let model = AudioToLandmarksModel(configuration: configuration, seed: 5)
    let url = folder.appendingPathComponent("m.safetensors")
    try model.write(to: url)
    let loaded = try AudioToLandmarksModel(contentsOf: url)
    XCTAssertEqual(loaded.configuration, configuration)
    XCTAssertEqual(loaded.stateDictionary().mapValues(\.scalars), model.stateDictionary().mapValues(\.scalars))

    // A tensor too many, one missing, or a foreign file are named errors.
    var tensors = model.stateDictionary()
    tensors["stray"] = Tensor(zeros: [1])
    try SafeTensors.write(tensors, metadata: model.metadata, to: url)
    XCTAssertThrowsError(try AudioToLandmarksModel(contentsOf: url)) { XCTAssertTrue("\($0)".contains("stray"), "\($0)") }
    tensors = model.stateDictionary()
    tensors["predictor.lstm.weight_hh_l0"] = nil
    try SafeTensors.write(tensors, metadata: model.metadata, to: url)
    XCTAssertThrowsError(try AudioToLandmarksModel(contentsOf: url)) { XCTAssertTrue("\($0)".contains("weight_hh_l0"), "\($0)") }
    try SafeTensors.write(model.stateDictionary(), to: url)
    XCTAssertThrowsError(try AudioToLandmarksModel(contentsOf: url)) { XCTAssertTrue("\($0)".contains("redub.audio2landmarks.v1"), "\($0)") }

    // The alignment residual travels in the metadata; a file from before it existed is pose-giving.
    configuration.alignmentResidual = .placedQuery
    try AudioToLandmarksModel(configuration: configuration, seed: 5).write(to: url)
    XCTAssertEqual(try AudioToLandmarksModel(contentsOf: url).configuration.alignmentResidual, .placedQuery)
    var metadata = AudioToLandmarksModel(configuration: configuration, seed: 5).metadata
    metadata["alignment_residual"] = nil
    try SafeTensors.write(model.stateDictionary(), metadata: metadata, to: url)
    XCTAssertEqual(try AudioToLandmarksModel(contentsOf: url).configuration.alignmentResidual, .poseGiving)
    metadata["alignment_residual"] = "sideways"
    try SafeTensors.write(model.stateDictionary(), metadata: metadata, to: url)
    XCTAssertThrowsError(try AudioToLandmarksModel(contentsOf: url)) { XCTAssertTrue("\($0)".contains("sideways"), "\($0)") }
  }

  /// The placed-query alignment starts from the predicted face laid onto the clip frame by the
  /// similarity of their noses and eye corners: untrained, it returns a face that differs from the
  /// frame's only by its mouth with that mouth, exactly in the frame's pose; it learns by gradient
  /// like the pose-giving one; and the trainer picks it for data from one camera angle.
  func testPlacedQueryAlignmentKeepsThePredictedMouthInTheFramesPose() throws {
    var configuration = AudioToLandmarksConfiguration()
    configuration.tokenSize = 4
    configuration.alignmentResidual = .placedQuery
    let alignment = PoseAlignment(configuration: configuration, seed: 8)
    let clips = SyntheticSpeechCorpus.make(speakers: 1, sentences: 1, angles: 1)
    let faces = clips[0].landmarks
    let canonical = faces.map(LandmarkGeometry.canonical)
    // Frame t with another frame's mouth: only the mouth differs.
    let (t, other) = (3, faces.count / 2)
    XCTAssertGreaterThan(simdLengthSquared(canonical[t][66] - canonical[other][66]).squareRoot(), 0.01, "the two mouths must differ")
    let pose = LandmarkGeometry.pose(of: faces[t])
    let poseGiving = (0..<68).map { k in (k < 48 ? faces[t][k] : pose.apply(canonical[other][k])) / 100 }
    let aligned = alignment(predicted: [canonical[t]].landmarkTensor(), pose: [poseGiving].landmarkTensor()).scalars
    for k in 0..<68 {
      let expected = pose.apply(canonical[t][k]) / 100
      XCTAssertEqual(Double(aligned[2 * k]), expected.x, accuracy: 2e-3, "landmark \(k)")
      XCTAssertEqual(Double(aligned[2 * k + 1]), expected.y, accuracy: 2e-3, "landmark \(k)")
    }
    // Gradients through the network (the similarity fit is a pose estimate, fixed in the
    // backward pass, so the probe moves the mouths, which the fit does not read).
    let last = alignment.output.layers[1]
    last.weight.value = .randomNormal(last.weight.shape, standardDeviation: 0.3, seed: 10)
    let (q, p) = (Tensor.randomNormal([2, 68, 2], seed: 11), Tensor.randomNormal([2, 68, 2], seed: 12))
    func withMouth(_ face: Tensor, _ mouth: Tensor) -> Tensor { Tensor.concat([face.slice(axis: 1, 0..<48), mouth], axis: 1) }
    let check = GradientCheck(epsilon: 1e-2, maxElementsPerInput: 24)
    let result = check.run([q.slice(axis: 1, 48..<68), p.slice(axis: 1, 48..<68)]) {
      alignment(predicted: withMouth(q, $0[0]), pose: withMouth(p, $0[1])).squared().mean()
    }
    XCTAssertLessThan(result.worst, 1e-2, "\(result)")

    let twoAngles = try SyntheticSpeechCorpus.dataset(SyntheticSpeechCorpus.make(speakers: 1, sentences: 2, angles: 2), heldOutSentence: "1")
    XCTAssertTrue(twoAngles.hasCameraAnglePairs)
    XCTAssertEqual(twoAngles.suitedAlignmentResidual, .poseGiving)
    let oneAngle = try SyntheticSpeechCorpus.dataset(SyntheticSpeechCorpus.make(speakers: 1, sentences: 2, angles: 1), heldOutSentence: "1")
    XCTAssertEqual(oneAngle.suitedAlignmentResidual, .placedQuery)
  }

  func testMissingFramesAreInterpolatedAndAFacelessClipIsRefused() throws {
    let a = (0..<68).map { SIMD2(Double($0), 0.0) }, b = (0..<68).map { SIMD2(Double($0), 10.0) }
    let filled = try XCTUnwrap(AudioToLandmarksClip.fillMissing([a, a, [], [], b, []].map { $0.isEmpty ? a : $0 },
                                                                faceFound: [true, false, false, false, true, false]))
    XCTAssertEqual(filled[2][3].y, 5, accuracy: 1e-12)
    XCTAssertEqual(filled[1][3].y, 2.5, accuracy: 1e-12)
    XCTAssertEqual(filled[5][3].y, 10)
    XCTAssertNil(AudioToLandmarksClip.fillMissing([a], faceFound: [false]))
    XCTAssertThrowsError(try AudioToLandmarksClip(name: "x", windows: Tensor(zeros: [1, 28, 12]), landmarks: [a],
                                                  faceFound: [false], emotion: "neutral")) {
      XCTAssertEqual("\($0)", "clip x has no frame with a face")
    }
  }

  func testGeometryRoundTrips() {
    let clip = SyntheticSpeechCorpus.make(speakers: 1, sentences: 1, angles: 2)[1]
    let points = clip.landmarks[3]
    let pose = LandmarkGeometry.pose(of: points)
    for (p, c) in zip(points, points.map(pose.inverse)) { XCTAssertEqual(simdLengthSquared(pose.apply(c) - p), 0, accuracy: 1e-18) }
    let canonical = LandmarkGeometry.canonical(points)
    XCTAssertEqual(LandmarkGeometry.pose(of: canonical).scale, 1, accuracy: 1e-9)
    XCTAssertEqual(LandmarkGeometry.pose(of: canonical).angle, 0, accuracy: 1e-9)
  }

  /// The similarity fit recovers a known transform, and anchoring lays the prediction's nose on
  /// the clip's and keeps the clip's eyes while the mouth keeps the prediction's shape.
  func testTargetsAreAnchoredOnTheClipsNoseWithItsEyes() {
    let clip = SyntheticSpeechCorpus.make(speakers: 1, sentences: 1, angles: 2)[1]
    let original = clip.landmarks[3], other = clip.landmarks[9]
    let known = Similarity2D(scale: 1.3, angle: 0.2, translation: SIMD2(7, -4))
    let fit = LandmarkGeometry.similarity(from: original, to: original.map(known.apply))
    XCTAssertEqual(fit.scale, known.scale, accuracy: 1e-9)
    XCTAssertEqual(fit.angle, known.angle, accuracy: 1e-9)
    XCTAssertEqual(simdLengthSquared(fit.translation - known.translation), 0, accuracy: 1e-12)

    // A prediction with another frame's mouth, carried off by the alignment's error.
    let predicted = other.map(known.apply)
    let anchored = AudioToLandmarksInference.anchor(predicted, to: original)
    for k in 36..<48 { XCTAssertEqual(anchored[k], original[k]) }
    for k in 27..<36 { XCTAssertLessThan(simdLengthSquared(anchored[k] - original[k]).squareRoot(), 0.5) }
    // The mouth: the other frame's, in the original's place.
    let back = LandmarkGeometry.similarity(from: Array(anchored[27..<36]), to: Array(other[27..<36]))
    for k in 48..<68 { XCTAssertLessThan(simdLengthSquared(back.apply(anchored[k]) - other[k]).squareRoot(), 1e-6) }
  }
}
