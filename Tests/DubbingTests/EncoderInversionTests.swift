import DemoWorld
import Foundation
import Networks
import Tensors
import XCTest

@testable import Dubbing

/// Pivots from the e4e encoder: chosen when the models folder has one (or asked for), read by
/// the invert tasks instead of LPIPS and FAN, and equal to the codes plus the mean latent.
final class EncoderInversionTests: XCTestCase {
  var root: URL!

  override func setUpWithError() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("redub-e4e-\(UUID().uuidString)")
    try DemoModels.write(to: root.appendingPathComponent("models"))
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

  func testTheJobTakesTheEncoderWhenTheModelsFolderHasOne() throws {
    let models = ModelFolder(root.appendingPathComponent("models"))
    var settings = EditSettings()
    XCTAssertFalse(try LocalEdit.firstTask(settings: settings, models: models, hasLandmarks: true).parameters.useEncoder)
    settings.inversion = "encoder"
    XCTAssertThrowsError(try LocalEdit.firstTask(settings: settings, models: models, hasLandmarks: true)) { error in
      XCTAssertEqual(error as? ModelSetError, .missing(folder: models.url.path, role: .encoder))
      XCTAssertTrue("\(error)".contains("e4e.safetensors"), "\(error)")
    }
    try DemoModels.writeEncoder(to: models.url)
    settings.inversion = "auto"
    let first = try LocalEdit.firstTask(settings: settings, models: models, hasLandmarks: true)
    XCTAssertTrue(first.parameters.useEncoder)
    let invert = EditJobPlan.followUps(first.parameters, editableCount: 5).first { $0.stage == .invert }!
    XCTAssertEqual(Set(invert.inputs.map(\.name)), ["crops-00000", "model.generator", "model.encoder"])
    XCTAssertTrue(EditJobPlan.models(first.parameters).contains(.encoder))
    settings.inversion = "optimize"
    let optimized = try LocalEdit.firstTask(settings: settings, models: models, hasLandmarks: true)
    XCTAssertFalse(optimized.parameters.useEncoder)
    XCTAssertFalse(EditJobPlan.models(optimized.parameters).contains(.encoder))
  }

  func testPivotsAreTheCodesOfTheAreaAveragedCropPlusTheMeanLatent() throws {
    let c = StyleGAN2Configuration(size: 16, styleDim: 8, mappingLayers: 1, channels: [4: 8, 8: 8, 16: 8])
    let encoder = E4EEncoder(generatorSize: 16, width: 16, styleDim: 8)
    DemoModels.randomize(encoder, seed: 3)
    let average = Tensor.randomNormal([c.latentCount, c.styleDim], seed: 4)
    var inversion = try EncoderInversion(encoder: encoder, meanLatent: average, generator: c)
    inversion.batchSize = 2
    // 512² crops (a 512² generator's) are averaged over 2×2 blocks down to e4e's 256².
    let frames = Tensor.randomNormal([3, 3, 512, 512], standardDeviation: 0.5, seed: 5)
    var reported: [Int] = []
    let pivots = try XCTUnwrap(inversion.invert(frames) { reported.append($0); return true })
    XCTAssertEqual(reported, [2, 3])
    let expected = encoder.codes(frames.avgPool2d(kernel: 2)) + average.reshaped([1, c.latentCount, c.styleDim])
    XCTAssertEqual(pivots.shape, [3, c.latentCount, c.styleDim])
    let error = zip(pivots.scalars, expected.scalars).map { abs($0 - $1) }.max()!
    XCTAssertLessThan(error, 1e-5)
    // A mean latent of one style vector applies to every entry.
    let shared = try EncoderInversion(encoder: encoder, meanLatent: average.slice(axis: 0, 0..<1).reshaped([c.styleDim]), generator: c)
    XCTAssertEqual(try XCTUnwrap(shared.invert(frames.slice(axis: 0, 0..<1))).shape, [1, c.latentCount, c.styleDim])
    // Stopping reports nil.
    XCTAssertNil(inversion.invert(frames) { _ in false })
    // An encoder made for another generator is refused, naming both shapes.
    let wide = StyleGAN2Configuration(size: 16, styleDim: 16, mappingLayers: 1, channels: [4: 8, 8: 8, 16: 8])
    XCTAssertThrowsError(try EncoderInversion(encoder: encoder, meanLatent: average, generator: wide)) { error in
      XCTAssertTrue("\(error)".contains("6×8") && "\(error)".contains("6×16"), "\(error)")
    }
  }

  /// The whole edit with encoder pivots, on two workers: same bytes as one worker, and the
  /// invert tasks optimized nothing (no loss curve).
  func testAnEditWithEncoderPivotsOnTwoWorkersMatchesOneWorker() throws {
    let models = root.appendingPathComponent("models")
    try DemoModels.writeEncoder(to: models)
    let inputs = root.appendingPathComponent("inputs")
    try DemoClip.write(to: inputs, frames: 8)
    var settings = EditSettings()
    settings.windowLength = 4
    settings.overlap = 1
    settings.chunkFrames = 4
    settings.tuneSteps = 2
    settings.optimizeSteps = 2
    settings.stitchSteps = 1
    settings.fanInputSize = 64
    let saved = Runtime.threads
    Runtime.setThreads(1)
    defer { Runtime.setThreads(saved) }
    func edit(workers: Int) throws -> (EditReport, URL) {
      let state = root.appendingPathComponent("state-\(workers)")
      let edit = try LocalEdit(
        inputs: .init(clip: inputs.appendingPathComponent("clip.mp4").path, audio: inputs.appendingPathComponent("dub.wav").path,
                      models: models.path, landmarks: inputs.appendingPathComponent("landmarks.safetensors").path,
                      output: root.appendingPathComponent("out-\(workers).mp4").path),
        settings: settings, state: state)
      edit.workers = workers
      return (try edit.run(), state)
    }
    let (one, oneState) = try edit(workers: 1)
    let (two, twoState) = try edit(workers: 2)
    XCTAssertEqual(one.ranSteps, two.ranSteps)
    XCTAssertEqual(one.ranSteps["invert"], 2)
    XCTAssertNil(one.lossCurves["invert-00000"], "encoder pivots are not optimized")
    XCTAssertNotNil(one.lossCurves["optimize-0000"])
    for file in ["invert-00000/pivots.safetensors", "invert-00001/pivots.safetensors", "merge/latents.safetensors",
                 "stitch-00000/stitched.safetensors", "stitch-00001/stitched.safetensors"] {
      let a = try Data(contentsOf: oneState.appendingPathComponent("tasks/\(file)"))
      let b = try Data(contentsOf: twoState.appendingPathComponent("tasks/\(file)"))
      XCTAssertEqual(a, b, "\(file) differs between one and two workers")
    }
    let pivots = try SafeTensorsFile(contentsOf: oneState.appendingPathComponent("tasks/invert-00000/pivots.safetensors")).tensor("pivots")
    XCTAssertEqual(pivots.shape, [4, 10, 64])
    XCTAssertTrue(pivots.scalars.allSatisfy(\.isFinite))
  }
}
