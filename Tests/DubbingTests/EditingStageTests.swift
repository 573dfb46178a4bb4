import Foundation
import Networks
import Tensors
import TestSupport
import XCTest

@testable import Dubbing

final class EditingStageTests: XCTestCase {
  // MARK: Windows and merging

  func testWindowsCoverTheClipWithOverlapsAndBoundaries() {
    let plan = WindowPlan(frameCount: 50, windowLength: 24, overlap: 4)
    XCTAssertEqual(plan.windows.map(\.frames), [0..<24, 20..<44, 26..<50])
    XCTAssertEqual(plan.windows.map(\.leftBoundary), [nil, 19, 25])
    XCTAssertEqual(plan.windows.map(\.rightBoundary), [24, 44, nil])
    let exact = WindowPlan(frameCount: 44, windowLength: 24, overlap: 4)
    XCTAssertEqual(exact.windows.map(\.frames), [0..<24, 20..<44])
    let short = WindowPlan(frameCount: 10, windowLength: 24, overlap: 4)
    XCTAssertEqual(short.windows.map(\.frames), [0..<10])
    XCTAssertEqual(short.windows[0].leftBoundary, nil)
  }

  func testMergeIsExactWhenWindowsAgreeAndCrossFadesWhenTheyDoNot() {
    let plan = WindowPlan(frameCount: 30, windowLength: 12, overlap: 4)
    let truth = Tensor.randomNormal([30, 3, 2], seed: 1)
    for blend in WindowPlan.Blend.allCases {
      let merged = plan.merge(plan.windows.map { truth.gatherRows(Array($0.frames)) }, blend: blend)
      XCTAssertLessThan(relativeError(merged, truth), 1e-6, "\(blend)")
    }
    // Two windows that disagree by a constant: the overlap moves from one to the other.
    let two = WindowPlan(frameCount: 20, windowLength: 12, overlap: 4)
    let merged = two.merge([Tensor(zeros: [12, 1]), Tensor(ones: [12, 1])]).scalars
    XCTAssertEqual(Array(merged[0..<8]), Array(repeating: 0, count: 8))
    XCTAssertEqual(Array(merged[12..<20]), Array(repeating: 1, count: 8))
    let fade = Array(merged[8..<12])
    XCTAssertEqual(fade, fade.sorted())
    XCTAssertTrue(fade.allSatisfy { $0 > 0 && $0 < 1 }, "\(fade)")
  }

  func testSeamMetricSeesDisagreeingWindows() {
    let plan = WindowPlan(frameCount: 40, windowLength: 12, overlap: 4)
    // A smooth path: every jump alike.
    let smooth = Tensor((0..<40).flatMap { t in [Float(t) * 0.1, sin(Float(t) * 0.1)] }, shape: [40, 2])
    let merged = plan.merge(plan.windows.map { smooth.gatherRows(Array($0.frames)) })
    XCTAssertEqual(plan.seamMetric(merged), 1, accuracy: 0.1)
    // Windows offset from each other: without overlap the seams are steps.
    let hard = WindowPlan(frameCount: 40, windowLength: 10, overlap: 0)
    let offsets = hard.windows.map { w in smooth.gatherRows(Array(w.frames)) + Float(w.index) * 0.5 }
    let soft = plan.windows.map { w in smooth.gatherRows(Array(w.frames)) + Float(w.index) * 0.5 }
    let stepped = hard.seamMetric(hard.merge(offsets)), faded = plan.seamMetric(plan.merge(soft))
    XCTAssertGreaterThan(stepped, 3)
    XCTAssertLessThan(faded, stepped)
  }

  func testSmoothnessTiesTheBoundaries() {
    let w = Tensor([1, 2, 4], shape: [3, 1])
    XCTAssertEqual(WindowOptimization.smoothness(w, left: nil, right: nil).scalars[0], 1 + 4)
    XCTAssertEqual(WindowOptimization.smoothness(w, left: Tensor([0], shape: [1]), right: Tensor([4], shape: [1])).scalars[0], 1 + 1 + 4 + 0)
    let check = GradientCheck().run([Tensor.randomNormal([3, 2, 2], seed: 3)]) {
      WindowOptimization.smoothness($0[0], left: Tensor(ones: [2, 2]), right: Tensor(zeros: [2, 2]))
    }
    XCTAssertLessThan(check.worst, 1e-2, "\(check)")
  }

  func testLandmarkHeatmapLoss() {
    let loss = LandmarkHeatmapLoss()
    let a = Tensor.randomUniform([2, 68, 8, 8], seed: 1), b = Tensor.randomUniform([2, 68, 8, 8], seed: 2)
    // Σ a_k·√(0 + 1e-12) with Σ a_k = 120.
    XCTAssertEqual(loss(a, target: a).scalars[0], 0, accuracy: 1e-3)
    XCTAssertGreaterThan(loss(a, target: b).scalars[0], 0.5)
    let check = GradientCheck().run([a]) { loss($0[0], target: b) }
    XCTAssertLessThan(check.worst, 1e-2, "\(check)")
    // Target heatmaps from crop landmarks peak where the landmarks are, up to face-alignment's
    // own constant offset (its `transform` of point + 1 and 1-based `draw_gaussian`).
    let points = (0..<68).map { k -> SIMD2<Double> in
      let x = Double(k % 8) * 4 + 2, y = Double(k / 8) * 3 + 5
      return SIMD2(x, y)
    }
    let target = LandmarkHeatmapLoss.targetHeatmaps(cropLandmarks: [points], cropSize: 32)
    XCTAssertEqual(target.shape, [1, 68, 64, 64])
    let decoded = FANLandmarks.decode(target)[0].cropPoints.map { SIMD2(Double($0.x), Double($0.y)) * 32 / 256 }
    // The heatmap grid is 4 FAN pixels = half a crop pixel, so offsets vary by that much.
    for (p, q) in zip(points, decoded) {
      XCTAssertTrue((0.5...1.3).contains(q.x - p.x) && (0.5...1.3).contains(q.y - p.y), "\(p) → \(q)")
    }
  }

  func testLandmarkWeightsByGroup() throws {
    XCTAssertEqual(try LandmarkGroup.weights(""), LandmarkHeatmapLoss.defaultWeights)
    let weights = try LandmarkGroup.weights("mouth=5, nose=0.5")
    XCTAssertEqual(weights[48..<68].allSatisfy { $0 == 5 }, true)
    XCTAssertEqual(weights[27..<36].allSatisfy { $0 == 0.5 }, true)
    XCTAssertEqual(weights[36], 2, "eyes keep their default")
    XCTAssertEqual(weights[0], 1)
    for bad in ["lips=3", "mouth", "mouth=-1", "mouth=x", "jaw=0,brows=0,nose=0,eyes=0,mouth=0"] {
      XCTAssertThrowsError(try LandmarkGroup.weights(bad), bad)
    }
  }

  // MARK: Optimization stages at a tiny size

  /// A 32² generator and LPIPS-VGG and FAN-1 with seeded random weights: untrained, but every
  /// loss has a gradient, which is what the stages' mechanics need.
  private func tinyModels() -> (StyleGAN2Generator, EditingCritics) {
    let generator = StyleGAN2Generator(
      StyleGAN2Configuration(size: 32, styleDim: 16, mappingLayers: 2, channels: [4: 16, 8: 16, 16: 8, 32: 8]), seed: 3)
    let lpips = LPIPS(trunk: .vgg), fan = FAN(modules: 1)
    for (i, (name, p)) in (lpips.namedParameters + fan.namedParameters).enumerated() {
      if name.hasSuffix("running_var") || (name.hasSuffix("weight") && p.shape.rank == 1) {
        p.value = Tensor(ones: p.shape)
      } else if p.shape.rank == 4 {
        let fanIn = p.shape[1] * p.shape[2] * p.shape[3]
        let w = Tensor.randomNormal(p.shape, standardDeviation: (2 / Float(fanIn)).squareRoot(), seed: UInt64(i))
        p.value = name.hasPrefix("lin") ? w.abs() : w
      } else {
        p.value = Tensor(zeros: p.shape)
      }
    }
    return (generator, EditingCritics(lpips: lpips, fan: fan, fanInputSize: 64))
  }

  func testWindowOptimizationLowersEveryImageTerm() {
    let (generator, critics) = tinyModels()
    let c = generator.configuration
    let truth = generator.map(Tensor.randomNormal([2, c.styleDim], seed: 5)).unsqueezed(at: 1)
      .broadcast(to: [2, c.latentCount, c.styleDim])
    let frames = generator.synthesize(truth).detached()
    let targets = critics.heatmaps(frames).detached()
    let start = truth + Tensor.randomNormal(truth.shape, standardDeviation: 0.5, seed: 6)
    var settings = WindowOptimization.Settings()
    settings.steps = 12
    settings.learningRate = 0.05
    settings.fanWeight = 1
    var history: [LossTerms] = []
    let result = WindowOptimization(generator: generator, critics: critics, settings: settings)
      .optimize(frames: frames, targetHeatmaps: targets, initial: start, left: truth.select(axis: 0, 0), right: nil) {
        history.append($1)
        return true
      }
    XCTAssertEqual(history.count, 12)
    XCTAssertEqual(result.shape, truth.shape)
    for term in ["lpips", "fan"] {
      XCTAssertLessThan(history.last!.values[term]!, history.first!.values[term]!, "\(term): \(history.first!) → \(history.last!)")
    }
    XCTAssertLessThan(history.last!.total, history.first!.total)
    XCTAssertTrue(generator.parameters.allSatisfy { $0.gradient == nil }, "the generator stays frozen")

    // Cancellation stops at once.
    var steps = 0
    _ = WindowOptimization(generator: generator, critics: critics, settings: settings)
      .optimize(frames: frames, targetHeatmaps: targets, initial: start, left: nil, right: nil) { step, _ in
        steps = step
        return step < 3
      }
    XCTAssertEqual(steps, 3)
  }

  func testInversionAndPivotalTuningReduceTheirLosses() {
    let (generator, critics) = tinyModels()
    let c = generator.configuration
    let truth = generator.map(Tensor.randomNormal([2, c.styleDim], seed: 8))
    let frames = generator.synthesize(truth).detached()
    var settings = LatentInversion.Settings()
    settings.steps = 10
    var inversion: [LossTerms] = []
    let pivots = LatentInversion(generator: generator, critics: critics, settings: settings).invert(frames) { inversion.append($1); return true }
    XCTAssertEqual(pivots.shape, [2, c.latentCount, c.styleDim])
    XCTAssertLessThan(inversion.last!.total, inversion.first!.total)

    let before = generator.stateDictionary()
    var tuning = PivotalTuning.Settings()
    tuning.steps = 10
    tuning.learningRate = 3e-3
    tuning.batchSize = 2
    var tuned: [LossTerms] = []
    PivotalTuning(generator: generator, critics: critics, settings: tuning).tune(frames: frames, pivots: pivots) { tuned.append($1); return true }
    XCTAssertLessThan(tuned.last!.total, tuned.first!.total)
    let after = generator.stateDictionary()
    XCTAssertNotEqual(after["convs.0.conv.weight"]?.scalars, before["convs.0.conv.weight"]?.scalars, "synthesis weights move")
    XCTAssertEqual(after["style.1.weight"]?.scalars, before["style.1.weight"]?.scalars, "the mapping network stays")
  }

  /// With PTI's locality regularization a latent far from the pivots renders closer to what the
  /// untuned generator made of it than after tuning without it; the terms are reported.
  func testLocalityRegularizationKeepsTuningLocal() {
    func tuned(locality: Bool) -> (change: Double, terms: LossTerms) {
      let (generator, critics) = tinyModels()
      let c = generator.configuration
      let truth = generator.map(Tensor.randomNormal([2, c.styleDim], seed: 8))
      // Frames unlike the generator's renders, so tuning has to move the weights far.
      let frames = Tensor.randomUniform([2, 3, c.size, c.size], in: -1...1, seed: 3)
      let pivots = Tensor.concat((0..<c.latentCount).map { _ in truth.reshaped([2, 1, c.styleDim]) }, axis: 1)
      let far = generator.map(Tensor.randomNormal([1, c.styleDim], seed: 99)).reshaped([1, 1, c.styleDim])
      let probe = Tensor.concat((0..<c.latentCount).map { _ in far }, axis: 1)
      let before = withFrozen(generator.parameters) { generator.synthesize(probe).detached() }
      var settings = PivotalTuning.Settings()
      settings.steps = 12
      settings.learningRate = 1e-2
      settings.batchSize = 2
      settings.locality = locality
      settings.localityL2Weight = 10
      settings.localityAlpha = 3
      var last: LossTerms?
      PivotalTuning(generator: generator, critics: critics, settings: settings).tune(frames: frames, pivots: pivots) { last = $1; return true }
      let after = withFrozen(generator.parameters) { generator.synthesize(probe).detached() }
      return (Double((after - before).squared().mean().scalars[0]), last!)
    }
    let free = tuned(locality: false), local = tuned(locality: true)
    print("far latent moved \(local.change) with locality, \(free.change) without")
    XCTAssertNil(free.terms.values["locality_l2"])
    XCTAssertNotNil(local.terms.values["locality_lpips"])
    XCTAssertLessThan(local.change, 0.8 * free.change, "locality: \(local.change), without: \(free.change)")
  }

  func testStitchingMeetsTheOriginalOnTheBandAndLeavesTheSharedGenerator() {
    let (generator, critics) = tinyModels()
    _ = critics
    let c = generator.configuration
    let latent = generator.map(Tensor.randomNormal([1, c.styleDim], seed: 21)).unsqueezed(at: 1)
      .broadcast(to: [1, c.latentCount, c.styleDim]).detached()
    let original = Tensor.randomUniform([1, 3, 32, 32], in: -1...1, seed: 22)
    // A face disc in the middle of the crop.
    let disc = Tensor((0..<(32 * 32)).map { i -> Float in
      let (x, y) = (Double(i % 32) - 15.5, Double(i / 32) - 15.5)
      return x * x + y * y < 100 ? 1 : 0
    }, shape: [32, 32])
    var settings = StitchingTuning.Settings()
    settings.steps = 15
    settings.learningRate = 1e-2
    let stitching = StitchingTuning(generator: generator, settings: settings)
    let masks = stitching.masks(faceMask: disc)
    XCTAssertEqual(masks.face.scalars.reduce(0, +), disc.scalars.reduce(0, +))
    let band = masks.band.scalars
    XCTAssertEqual(band[0], 1, "the crop's corner is on the edge band")
    XCTAssertEqual(band[16 * 32 + 16], 0, "the face's centre is not")
    XCTAssertEqual(band[16 * 32 + 16 + 10], 1, "just outside the disc is")
    let before = generator.stateDictionary().mapValues(\.scalars)
    var history: [LossTerms] = []
    let stitched = stitching.stitch(original: original, latent: latent, masks: masks) { history.append($1); return true }
    XCTAssertEqual(stitched.shape, [1, 3, 32, 32])
    XCTAssertLessThan(history.last!.values["boundary"]!, history.first!.values["boundary"]!)
    XCTAssertEqual(generator.stateDictionary().mapValues(\.scalars), before, "the shared generator is unchanged")
  }
}
