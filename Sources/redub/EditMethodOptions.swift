import ArgumentParser
import Dubbing

/// The method's settings, shared by `redub edit` and `redub submit`; the paper's are the defaults.
struct EditMethodOptions: ParsableArguments {
  @Option(help: "Frames per optimization window.") var window = 24
  @Option(help: "Frames shared by neighbouring windows.") var overlap = 4
  @Option(help: "Optimization steps per window (default 300).") var steps: Int?
  @Option(help: "Pivots: auto (the e4e encoder when the models folder has e4e.safetensors, else optimization), encoder, or optimize.")
  var inversion = "auto"
  @Option(help: "Inversion steps (optimization).") var invertSteps = 300
  @Option(help: "Pivotal tuning steps.") var tuneSteps = 350
  @Option(help: "Stitching tuning steps per frame.") var stitchSteps = 100
  @Flag(help: "PTI's locality regularization while tuning (α 30; λ 0.1 on MSE and on LPIPS).") var localityRegularization = false
  @Option(help: "Optimization passes: 1 (boundary latents from the pivots) or 2 (a second pass tied to the neighbours' first-pass results).")
  var boundaryPasses = 1
  @Flag(help: "Optimize windows without boundary latents (to measure what they do for the seams).") var noBoundaryLatents = false
  @Option(help: "Window optimization: Adam learning rate.") var learningRate: Float = 1e-3
  @Option(help: "Window optimization: λ_LPIPS, the weight of LPIPS to the original frame.") var lpipsWeight: Float = 1
  @Option(help: "Window optimization: λ_fan, the weight of the FAN-heatmap landmark loss (a sum over the 68 heatmaps).") var fanWeight: Float = 5e-3
  @Option(help: "Window optimization: λ_smooth, the weight of Σ‖w_i − w_{i−1}‖².") var smoothnessWeight: Float = 1e-4
  @Option(help: ArgumentHelp("L_fan's landmark weights by group (jaw, brows, nose, eyes, mouth); groups not named keep the defaults mouth 3, eyes 2, others 1.",
                             valueName: "group=w,..."))
  var landmarkWeights: String?
  @Option(help: "Frames per invert/stitch chunk.") var chunk = 16
  @Option(help: "Cross-fade of window overlaps: linear or cosine.") var blend = "linear"
  @Option(help: "FAN's input side (256 for the published FAN).") var fanInputSize = 256
  @Option(help: "Frames without a face: skip (leave unedited) or fail.") var onMissingFace = "skip"
  @Option(help: "A dub longer or shorter than the clip: fit (pad with silence or trim, with a note) or error.") var audioLength = "fit"
  @Option(help: "auto, or one of the audio-to-landmark model's emotions.") var emotion = "auto"
  @Option(help: "From neutral (0) to the chosen emotion (1).") var emotionStrength: Float = 1
  @Flag(help: "Do not calibrate the audio-to-landmark model to the speaker with the clip's soundtrack (use when it is not the speaker's own speech: music, a mixed or foreign track).")
  var noSpeakerCalibration = false

  func validate() throws {
    if window < 2 || overlap < 0 || overlap >= window { throw ValidationError("need --window ≥ 2 and 0 ≤ --overlap < --window.") }
    if (steps ?? 1) < 1 || invertSteps < 1 || tuneSteps < 0 || stitchSteps < 0 || chunk < 1 {
      throw ValidationError("step counts and --chunk must be positive (--tune-steps and --stitch-steps may be 0).")
    }
    if ![1, 2].contains(boundaryPasses) { throw ValidationError("--boundary-passes is 1 or 2.") }
    if !["linear", "cosine"].contains(blend) { throw ValidationError("--blend is linear or cosine.") }
    if !["auto", "encoder", "optimize"].contains(inversion) { throw ValidationError("--inversion is auto, encoder or optimize.") }
    if !["fit", "error"].contains(audioLength) { throw ValidationError("--audio-length is fit or error.") }
    if !["skip", "fail"].contains(onMissingFace) { throw ValidationError("--on-missing-face is skip or fail.") }
    if fanInputSize < 64 || fanInputSize % 64 != 0 { throw ValidationError("--fan-input-size must be a multiple of 64.") }
    if !(learningRate > 0 && learningRate.isFinite) { throw ValidationError("--learning-rate must be positive.") }
    for (name, value) in [("--lpips-weight", lpipsWeight), ("--fan-weight", fanWeight), ("--smoothness-weight", smoothnessWeight)]
    where !(value >= 0 && value.isFinite) {
      throw ValidationError("\(name) must be a number ≥ 0.")
    }
    if let landmarkWeights {
      do { _ = try LandmarkGroup.weights(landmarkWeights) } catch { throw ValidationError("--landmark-weights: \(error)") }
    }
  }

  var settings: EditSettings {
    var settings = EditSettings()
    settings.windowLength = window
    settings.overlap = overlap
    settings.optimizeSteps = steps ?? 300
    settings.inversion = inversion
    settings.invertSteps = invertSteps
    settings.tuneSteps = tuneSteps
    settings.tuneLocality = localityRegularization
    settings.boundaryPasses = boundaryPasses
    settings.boundaryLatents = !noBoundaryLatents
    settings.stitchSteps = stitchSteps
    settings.optimizeLearningRate = learningRate
    settings.lpipsWeight = lpipsWeight
    settings.fanWeight = fanWeight
    settings.smoothnessWeight = smoothnessWeight
    settings.landmarkWeights = landmarkWeights.flatMap { try? LandmarkGroup.weights($0) }
    settings.chunkFrames = chunk
    settings.blend = blend
    settings.fanInputSize = fanInputSize
    settings.onMissingFace = onMissingFace
    settings.emotion = emotion
    settings.audioLength = audioLength
    settings.emotionStrength = emotionStrength
    settings.speakerCalibration = !noSpeakerCalibration
    return settings
  }
}
