import Foundation

/// Everything that decides an edit's result besides its inputs; the paper's settings are the
/// defaults. Stored in the state folder so a resumed edit continues the same job.
public struct EditSettings: Codable, Sendable, Equatable {
  public var windowLength = 24
  public var overlap = 4
  public var blend = "linear"
  /// Frames per invert / stitch task (and per crop file in the state folder).
  public var chunkFrames = 16
  /// Pivots: `auto` (the e4e encoder when the models folder has one, else optimization),
  /// `encoder` (e4e; an error without one) or `optimize` (from the mean latent, LPIPS + L2).
  public var inversion = "auto"
  public var invertSteps = 300
  public var invertLearningRate: Float = 0.01
  public var tuneSteps = 350
  public var tuneLearningRate: Float = 3e-4
  /// PTI's locality regularization during tuning (off by default, as in PTI).
  public var tuneLocality = false
  public var optimizeSteps = 300
  public var optimizeLearningRate: Float = 1e-3
  public var lpipsWeight: Float = 1
  public var fanWeight: Float = 5e-3
  public var smoothnessWeight: Float = 1e-4
  /// L_fan's per-landmark weights a_k (68 values); nil: `LandmarkHeatmapLoss.defaultWeights`
  /// (mouth 3, eyes 2, the rest 1). Optional so state folders written before it still load.
  public var landmarkWeights: [Float]?
  /// Ties each window's ends to boundary latents (off: windows are optimized independently).
  public var boundaryLatents = true
  /// 1: boundary latents are the pivots of the frames just outside a window; 2: a second pass
  /// re-optimizes each window from its first solution with its neighbours' first-pass results as
  /// boundary latents.
  public var boundaryPasses = 1
  public var stitchSteps = 100
  public var stitchLearningRate: Float = 3e-4
  /// FAN's input side (256 for the published FAN; 64 serves the demo set's tiny models).
  public var fanInputSize = 256
  /// `skip`: frames without a face stay unedited and are listed; `fail`: the edit stops.
  public var onMissingFace = "skip"
  /// A dub whose length differs from the clip's by more than a frame: `fit` pads it with
  /// silence (closed mouth) or trims it, with a note in the report; `error` stops the edit.
  public var audioLength = "fit"
  /// On the farm: stages whose tasks go to workers with GPUs first (workers without still
  /// take them when nothing else is ready for them).
  public var preferGPU = ["invert", "tune", "optimize", "stitch"]
  public var emotion = "auto"
  public var emotionStrength: Float = 1
  /// Calibrate the audio-to-landmark model to the speaker with the clip's own soundtrack
  /// (`AudioToLandmarksInference.speakerOffsets`); nil is on (optional so state folders written
  /// before it still load). A clip without a soundtrack, or a silent one, is edited uncalibrated
  /// (the prepare task's metric `speaker_calibrated` is 0).
  public var speakerCalibration: Bool?

  public init() {}
}

/// The stages of an edit, in order.
public enum EditStage: String, CaseIterable, Sendable, Codable {
  case prepare, invert, tune, optimize, merge, stitch, composite
}

public enum EditError: Error, CustomStringConvertible, Equatable {
  case missingFaces([Int])
  case stateMismatch(String)
  case noFace(String)
  /// The dub and the clip differ in length (with `audioLength` "error").
  case audioLength(String)
  /// The task was asked to stop (its progress callback said so).
  case cancelled

  public var description: String {
    switch self {
    case .missingFaces(let frames):
      "no face in \(frames.count) frame(s): \(LandmarkTrackError.ranges(frames)) (--on-missing-face skip leaves them unedited)"
    case .stateMismatch(let s): s
    case .noFace(let s): s
    case .audioLength(let s): s
    case .cancelled: "the task was cancelled"
    }
  }
}

/// The iBUG-68 landmark groups, for naming L_fan weights (`--landmark-weights mouth=3,eyes=2`).
public enum LandmarkGroup: String, CaseIterable, Sendable {
  case jaw, brows, nose, eyes, mouth

  public var indices: Range<Int> {
    switch self {
    case .jaw: 0..<17
    case .brows: 17..<27
    case .nose: 27..<36
    case .eyes: 36..<48
    case .mouth: 48..<68
    }
  }

  /// "mouth=3,eyes=2" → 68 weights: the named groups set, the others at the defaults. Throws a
  /// message naming the bad part.
  public static func weights(_ text: String) throws -> [Float] {
    var weights = LandmarkHeatmapLoss.defaultWeights
    for part in text.split(separator: ",") {
      let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
      guard pair.count == 2, let group = LandmarkGroup(rawValue: pair[0]), let value = Float(pair[1]), value >= 0, value.isFinite else {
        throw LandmarkWeightsError(part: String(part))
      }
      for k in group.indices { weights[k] = value }
    }
    guard weights.contains(where: { $0 > 0 }) else { throw LandmarkWeightsError(part: text) }
    return weights
  }
}

public struct LandmarkWeightsError: Error, CustomStringConvertible {
  public var part: String
  public var description: String {
    "'\(part)' is not GROUP=WEIGHT with GROUP one of \(LandmarkGroup.allCases.map(\.rawValue).joined(separator: ", ")) and WEIGHT ≥ 0 (and not all zero)"
  }
}
