import DemoWorld
import Foundation
import Tensors
import XCTest

@testable import Dubbing

/// The method on a short demo job, task by task as the farm runs it: inversion lowers its loss
/// and L2, window optimization its loss and landmark term (LPIPS to the original frame may rise:
/// the mouth moves away from it, and the demo's LPIPS is untrained); overlapping windows tied to
/// boundary latents give a seam metric ≤ 1.5, untied windows without overlap a clearly worse one.
final class EditJobTests: XCTestCase {
  var root: URL!
  var outputs: [String: [String: URL]] = [:]

  override func setUpWithError() throws {
    root = FileManager.default.temporaryDirectory.appendingPathComponent("redub-edit-job-\(UUID().uuidString)")
    try DemoModels.write(to: root.appendingPathComponent("models"))
    try DemoClip.write(to: root.appendingPathComponent("inputs"), frames: 16)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: root) }

  func jobInput(_ name: String) -> URL {
    switch name {
    case EditJobPlan.clip: root.appendingPathComponent("inputs/clip.mp4")
    case EditJobPlan.audio: root.appendingPathComponent("inputs/dub.wav")
    case EditJobPlan.landmarks: root.appendingPathComponent("inputs/landmarks.safetensors")
    default: ModelFolder(root.appendingPathComponent("models")).path(ModelRole.allCases.first { EditJobPlan.model($0) == name }!)
    }
  }

  /// Runs `task` reading its inputs from earlier tasks' outputs.
  @discardableResult
  func run(_ task: EditTask) throws -> EditTaskResult {
    let bindings = Dictionary(uniqueKeysWithValues: task.inputs.map { ($0.name, $0) })
    let runner = EditStageRunner(scratch: root.appendingPathComponent("scratch/\(task.key)-\(UUID().uuidString.prefix(6))")) { name in
      let binding = try XCTUnwrap(bindings[name], "\(task.key) reads \(name)")
      if let job = binding.jobInput { return self.jobInput(job) }
      return try XCTUnwrap(self.outputs[binding.task!]?[binding.output!], "\(task.key) reads \(binding.task!).\(binding.output!)")
    }
    let result = try runner.run(task)
    outputs[task.key] = result.outputs
    return result
  }

  func testDemoJobLossesFallAndBoundaryLatentsSmoothTheSeams() throws {
    var settings = EditSettings()
    settings.windowLength = 6
    settings.overlap = 3
    settings.chunkFrames = 8
    // Inversion must converge enough for the pivots to differ frame to frame: with 6 steps all
    // pivots sit near w_avg, the jumps inside windows vanish and every seam looks large (2.4).
    settings.invertSteps = 30
    settings.tuneSteps = 2
    settings.optimizeSteps = 8
    settings.optimizeLearningRate = 1e-2
    settings.fanInputSize = 64
    let first = try LocalEdit.firstTask(settings: settings, models: ModelFolder(root.appendingPathComponent("models")), hasLandmarks: true)
    let prepared = try run(first)
    let editable = prepared.followUps[0].parameters.editableCount
    for task in prepared.followUps where task.stage == .invert || task.stage == .tune {
      let result = try run(task)
      // Tuning's steps see different frames in turn: their losses do not compare.
      guard task.stage == .invert else { continue }
      for term in ["total", "l2"] {
        XCTAssertLessThan(result.metrics["last.\(term)"]!, result.metrics["first.\(term)"]!, "\(task.key) \(term)")
      }
    }

    /// Optimizes every window with `settings` (checking its losses) and merges: the seam metric.
    func seam(_ settings: EditSettings) throws -> Double {
      var parameters = first.parameters
      parameters.settings = settings
      for task in EditJobPlan.followUps(parameters, editableCount: editable) where task.stage == .optimize {
        let result = try run(task)
        for term in ["total", "fan"] {
          XCTAssertLessThan(result.metrics["last.\(term)"]!, result.metrics["first.\(term)"]!, "\(task.key) \(term)")
        }
      }
      let merge = EditJobPlan.followUps(parameters, editableCount: editable).first { $0.stage == .merge }!
      return try XCTUnwrap(run(merge).metrics["seam_metric"])
    }
    let tied = try seam(settings)

    // Under the edit, LPIPS to the frame and the smoothness term rise (the mouth must leave the
    // frame's; Adam moves every latent coordinate by about lr a step whatever its gradient, more
    // than the pivots differ frame to frame). Each falls when it is what the window optimizes —
    // the smoothness term at a learning rate below those differences (at 1e-2 even smoothness
    // alone rises, 0.008 → 0.095).
    for (term, lpips, fan, rate): (String, Float, Float, Float) in [("lpips", 1, 0, 1e-2), ("smooth", 0, 0, 1e-4)] {
      var parameters = first.parameters
      parameters.settings = settings
      (parameters.settings.lpipsWeight, parameters.settings.fanWeight) = (lpips, fan)
      parameters.settings.optimizeLearningRate = rate
      let window = try XCTUnwrap(EditJobPlan.followUps(parameters, editableCount: editable).first { $0.stage == .optimize })
      let result = try run(window)
      print("demo job, \(window.key), \(term) alone at lr \(rate): \(result.metrics["first.\(term)"]!) → \(result.metrics["last.\(term)"]!)")
      XCTAssertLessThan(result.metrics["last.\(term)"]!, result.metrics["first.\(term)"]!, "\(term) alone (λ_LPIPS \(lpips), λ_fan \(fan), lr \(rate))")
    }
    var untied = settings
    untied.windowLength = 4
    untied.overlap = 0
    untied.boundaryLatents = false
    let loose = try seam(untied)
    print("demo job, \(editable) frames: seam metric \(tied) with overlap and boundary latents, \(loose) without")
    XCTAssertLessThanOrEqual(tied, 1.5)
    XCTAssertGreaterThan(loose, 1.2 * tied, "untied windows without overlap should leave rougher seams")
  }

  /// A dub shorter than the clip is padded (noted in the plan), or refused with --audio-length
  /// error; a corrupt clip is a clear error naming the file; nothing is written either way.
  func testPrepareHandlesDubLengthAndCorruptClips() throws {
    var settings = EditSettings()
    settings.fanInputSize = 64
    let models = ModelFolder(root.appendingPathComponent("models"))
    let first = try LocalEdit.firstTask(settings: settings, models: models, hasLandmarks: true)
    // Half the clip's length.
    let dub = root.appendingPathComponent("inputs/dub.wav")
    let samples = try SpeechInput.samples(path: dub.path)
    try SyntheticSpeechCorpus.wav(Array(samples.prefix(8 * 640))).write(to: dub)
    let prepared = try run(first)
    let plan = try JSONDecoder().decode(EditPlan.self, from: Data(contentsOf: try XCTUnwrap(prepared.outputs["plan"])))
    XCTAssertEqual(plan.frameCount, 16)
    XCTAssertEqual(plan.dubFrames, 8)
    XCTAssertEqual(plan.audioNote, "the dub lasts 8 frames, the clip 16: the dub was padded with silence (closed mouth) at the end")

    var strict = first
    strict.parameters.settings.audioLength = "error"
    XCTAssertThrowsError(try run(strict)) { error in
      XCTAssertTrue("\(error)".contains("the dub lasts 0.32 s (8 frames), the clip 16 frames"), "\(error)")
    }
    // A clip cut in the middle of its file.
    let clip = root.appendingPathComponent("inputs/clip.mp4")
    let bytes = try Data(contentsOf: clip)
    try bytes.prefix(bytes.count / 3).write(to: clip)
    XCTAssertThrowsError(try run(first)) { error in
      XCTAssertTrue("\(error)".contains("clip.mp4"), "\(error)")
    }
  }

  /// Prepare calibrates the targets to the speaker with the clip's own soundtrack by default
  /// (metric `speaker_calibrated` 1) and not with `speakerCalibration` false (0): the targets
  /// differ, the crops do not.
  func testPrepareCalibratesTheTargetsWithTheClipsSoundtrack() throws {
    var settings = EditSettings()
    settings.fanInputSize = 64
    let models = ModelFolder(root.appendingPathComponent("models"))
    // The trained demo model: the seeded one returns the clip's own landmarks whatever it hears,
    // so there would be nothing to calibrate.
    let trained = try XCTUnwrap(TrainedModels.files.first { $0.lastPathComponent == "audio2landmarks.safetensors" })
    try FileManager.default.removeItem(at: models.path(.audioToLandmarks))
    try FileManager.default.copyItem(at: trained, to: models.path(.audioToLandmarks))
    let calibrated = try LocalEdit.firstTask(settings: settings, models: models, hasLandmarks: true)
    var plain = calibrated
    plain.parameters.settings.speakerCalibration = false
    let on = try run(calibrated), off = try run(plain)
    XCTAssertEqual(on.metrics["speaker_calibrated"], 1)
    XCTAssertEqual(off.metrics["speaker_calibrated"], 0)
    let chunk = EditJobPlan.chunkName("crops", 0)
    let a = try SafeTensorsFile(contentsOf: try XCTUnwrap(on.outputs[chunk])), b = try SafeTensorsFile(contentsOf: try XCTUnwrap(off.outputs[chunk]))
    XCTAssertEqual(try a.tensor("crops").scalars, try b.tensor("crops").scalars)
    let shift = zip(try a.tensor("targets").scalars, try b.tensor("targets").scalars).map { abs($0 - $1) }.max() ?? 0
    XCTAssertGreaterThan(shift, 1e-3, "calibration left the targets as they were")
  }
}
