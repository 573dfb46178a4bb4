@testable import DemoWorld
import Foundation
import Media
import Networks
import Tensors
import XCTest

@testable import Dubbing

/// The reduced FAN and BiSeNet trainers on the demo world, and landmarks measured inside face
/// boxes taken from a landmark file.
final class FaceNetworkTrainingTests: XCTestCase {
  /// A short run lowers the heatmap loss, and the same seed gives the same network.
  func testFANTrainingLowersTheLossAndIsDeterministic() throws {
    var losses: [Float] = []
    let fan = DemoWorldTraining.trainFAN(width: 16, inputSize: 64, steps: 40, batchSize: 4, learningRate: 3e-3, seed: 5) {
      losses.append($0.loss)
    }
    XCTAssertEqual(losses.count, 40)
    XCTAssertTrue(losses.allSatisfy(\.isFinite), "\(losses)")
    let first = losses.prefix(5).reduce(0, +) / 5, last = losses.suffix(5).reduce(0, +) / 5
    XCTAssertLessThan(last, first * 0.5, "\(losses)")
    XCTAssertEqual(fan.inputSize, 64)
    XCTAssertEqual(fan.width, 16)
    XCTAssertTrue(fan.parameters.allSatisfy { !$0.requiresGradient }, "a trained network comes back frozen")

    let a = DemoWorldTraining.trainFAN(width: 16, inputSize: 64, steps: 2, batchSize: 2, seed: 9)
    let b = DemoWorldTraining.trainFAN(width: 16, inputSize: 64, steps: 2, batchSize: 2, seed: 9)
    let c = DemoWorldTraining.trainFAN(width: 16, inputSize: 64, steps: 2, batchSize: 2, seed: 10)
    XCTAssertEqual(a.stateDictionary().mapValues(\.scalars), b.stateDictionary().mapValues(\.scalars))
    XCTAssertNotEqual(a.stateDictionary().mapValues(\.scalars), c.stateDictionary().mapValues(\.scalars))
  }

  /// The training targets are the pipeline's: an aligned example's target is L_fan's target for
  /// the same crop, and a box example's is face-alignment's for the same frame, both placed
  /// exactly (sub-pixel), so the point's position within a heatmap pixel shows.
  func testFANTargetsAreThePipelines() {
    let heatmaps = FANTrainer.alignedTargets(cropLandmarks: [[SIMD2(20, 30)]], inputSize: 64)
    XCTAssertEqual(heatmaps.scalars, LandmarkHeatmapLoss.targetHeatmaps(cropLandmarks: [[SIMD2(20, 30)]], cropSize: 64, heatmapSize: 16).scalars)
    let frame = FANCropFrame(center: SIMD2(100, 110), scale: 1.2)
    XCTAssertEqual(FANTrainer.frameTargets(landmarks: [[SIMD2(90, 120)]], frames: [frame], inputSize: 128).scalars,
                   FANTargetHeatmaps.render(landmarks: [[SIMD2(90, 120)]], frames: [frame], size: 32, placement: .exact).scalars)
    let nudged = FANTrainer.frameTargets(landmarks: [[SIMD2(90.5, 120)]], frames: [frame], inputSize: 128)
    XCTAssertNotEqual(nudged.scalars, FANTrainer.frameTargets(landmarks: [[SIMD2(90, 120)]], frames: [frame], inputSize: 128).scalars,
                      "a fifth of a heatmap pixel moves the target")
  }

  func testBiSeNetTrainingLowersTheLoss() {
    var losses: [Float] = []
    let network = DemoWorldTraining.trainBiSeNet(width: 8, inputSize: 64, steps: 30, batchSize: 4, learningRate: 3e-3, seed: 2) {
      losses.append($0.loss)
    }
    XCTAssertTrue(losses.allSatisfy(\.isFinite), "\(losses)")
    let first = losses.prefix(5).reduce(0, +) / 5, last = losses.suffix(5).reduce(0, +) / 5
    XCTAssertLessThan(last, first * 0.7, "\(losses)")
    XCTAssertEqual(network.inputSize, 64)
    XCTAssertGreaterThan(DemoWorldTraining.evaluateBiSeNet(network, faces: 8), 0.5)
  }

  /// The shipped reduced BiSeNet (trained on 64² crops) parses a 128² render — the demo
  /// generator's size — through `faceMask`, which reads it at 64²: as good a face mask as at its
  /// own size, and better than the network reading 128² directly.
  func testReducedBiSeNetReadsLargerRendersAtItsOwnSize() throws {
    let url = try XCTUnwrap(TrainedModels.files.first { $0.lastPathComponent == "bisenet.safetensors" })
    let network = try BiSeNet(contentsOf: url)
    XCTAssertEqual(network.inputSize, 64)
    var faces = DemoWorldTraining.TrainingFaces(seed: 0xE7A1)
    var renderer = ProceduralFaceRenderer(width: DemoWorldTraining.frameSize, height: DemoWorldTraining.frameSize)
    var none: SeededGenerator?
    var images: [Tensor] = [], labels: [Int] = []
    for _ in 0..<12 {
      let example = DemoWorldTraining.parsingExample(renderer.render(faces.next()), inputSize: 128, rng: &none)
      images.append(example.image)
      labels += example.labels
    }
    let batch = Tensor.concat(images, axis: 0)
    func iou(_ mask: Tensor) -> Double {
      var intersection = 0, union = 0
      let face = Set(BiSeNet.defaultFaceClasses.map(\.rawValue))
      for (m, l) in zip(mask.scalars, labels) {
        let (a, b) = (m > 0.5, face.contains(l))
        if a && b { intersection += 1 }
        if a || b { union += 1 }
      }
      return Double(intersection) / Double(max(union, 1))
    }
    let resized = iou(network.faceMask(rgb01: batch))
    let direct = iou(BiSeNet.mask(network.logits(BiSeNet.normalize(rgb01: batch))))
    print("reduced BiSeNet on 128² crops: face-mask IoU \(resized) read at 64², \(direct) read at 128²")
    XCTAssertEqual(network.faceMask(rgb01: batch).shape.dims, [12, 1, 128, 128])
    XCTAssertGreaterThan(resized, 0.85)
    XCTAssertGreaterThanOrEqual(resized, direct)
  }

  func testCrossEntropyAndIoU() {
    // Two pixels, two classes: logits (0, log 3) and (0, 0) → −(log ¾ + log ½) / 2.
    let logits = Tensor([0, 0, Float(log(3.0)), 0], shape: [1, 2, 1, 2])
    XCTAssertEqual(BiSeNetTrainer.crossEntropy(logits, labels: [1, 0]).item(), Float(-(log(0.75) + log(0.5)) / 2), accuracy: 1e-5)
    // Predicted classes: pixel 0 → 1 (skin, face), pixel 1 → tie → 0 (background); truth: both face.
    XCTAssertEqual(BiSeNetTrainer.maskIoU(logits: logits, labels: [1, 1]), 0.5)
  }

  /// Landmarks of a rendered clip measured by a briefly trained FAN inside the boxes of the
  /// clip's known landmarks: every frame with a box gets 68 landmarks, closer to the truth than
  /// an untrained network's; a frame without a face in the box file gets none; a box file of
  /// another length is refused.
  func testFaceBoxLandmarksOnARenderedClip() throws {
    let clip = try TalkingClip.make(ClipConfiguration(sentenceA: "We meet at noon.", sentenceB: "Bob can buy a map.", seed: 3))
    var renderer = ProceduralFaceRenderer(width: 256, height: 256)
    let frames = (0..<6).map { renderer.render(clip.face($0 * 3, .original)) }
    let truth = frames.map { $0.landmarks.map { SIMD2(Double($0.x), Double($0.y)) } }
    var known = truth.map { TrackedLandmarks(points: $0, scores: Array(repeating: 1, count: 68), source: .detected) }
    known[4] = .missing
    let track = LandmarkTrack(frames: known, width: 256, height: 256, frameRate: 25)

    let trained = DemoWorldTraining.trainFAN(width: 16, inputSize: 64, steps: 250, batchSize: 4, learningRate: 3e-3,
                                             foregroundWeight: 10, seed: 1)
    let untrained = FAN(modules: 1, width: 16, inputSize: 64)
    untrained.initializeForTraining(seed: 1)
    func meanError(_ fan: FAN) throws -> Double {
      var source = FaceBoxLandmarks(boxes: track, estimator: FANLandmarkEstimator(network: fan), path: "boxes.safetensors")
      try source.check(clip: "clip.mp4", frameCount: 6, width: 256, height: 256)
      var total = 0.0, counted = 0
      for (i, frame) in frames.enumerated() {
        let found = source.landmarks(frame: i, image: frame.image)
        if i == 4 {
          XCTAssertFalse(found.faceFound)
          continue
        }
        XCTAssertEqual(found.source, .detected)
        // The FAN's own landmarks in the box of the known landmarks, through face-alignment's crop.
        let box = DemoWorldTrainingBox.box(truth[i])
        XCTAssertEqual(found.points, FANLandmarkEstimator(network: fan).landmarks(in: frame.image, frame: FANCropFrame(box: box)).points)
        XCTAssertEqual(found.points.count, 68)
        XCTAssertTrue(found.points.allSatisfy { $0.x.isFinite && $0.y.isFinite })
        total += zip(found.points, truth[i]).map { (($0 - $1) * ($0 - $1)).sum().squareRoot() }.reduce(0, +) / 68
        counted += 1
      }
      return total / Double(counted)
    }
    let trainedError = try meanError(trained), untrainedError = try meanError(untrained)
    XCTAssertLessThan(trainedError, untrainedError * 0.75, "trained \(trainedError) px, untrained \(untrainedError) px")

    let source = FaceBoxLandmarks(boxes: track, estimator: FANLandmarkEstimator(network: trained), path: "boxes.safetensors")
    XCTAssertThrowsError(try source.check(clip: "clip.mp4", frameCount: 7, width: 256, height: 256)) { error in
      XCTAssertTrue("\(error)".contains("boxes.safetensors has landmarks for 6 frames"), "\(error)")
    }
    XCTAssertThrowsError(try source.check(clip: "clip.mp4", frameCount: 6, width: 128, height: 256))
    XCTAssertNil(source.box(frame: 4))
    XCTAssertNotNil(source.box(frame: 0))
  }
}

enum DemoWorldTrainingBox {
  static func box(_ points: [SIMD2<Double>]) -> FaceBox {
    FaceBox(x1: points.map(\.x).min()!, y1: points.map(\.y).min()!, x2: points.map(\.x).max()!, y2: points.map(\.y).max()!)
  }
}
