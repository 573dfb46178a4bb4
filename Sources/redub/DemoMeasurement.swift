import ArgumentParser
import DemoWorld
import Dubbing
import Foundation
import Media
import Networks

/// The demo's measured edit (issue 10's goals): the mouth of the edited clip against the ground
/// truth (the same speaker saying the dub), beside the unedited clip's, and how much the edit
/// changed outside the face.
struct DemoMeasurement: Codable {
  /// M-LD, edited clip vs ground truth, frame pixels (mouth points 48–67).
  var editedMouthDistance: Double
  /// M-LD, original clip vs ground truth: what the edit starts from.
  var uneditedMouthDistance: Double
  /// PSNR of the edited clip against the original outside the face region (the face's parsing
  /// mask grown by `faceMargin` pixels), dB.
  var psnrOutsideFace: Double
  var faceMargin: Int
  var seamMetric: Double
  var frames: Int
  /// How the mouths were measured.
  var landmarks: String
  /// The audio-to-landmark model's target mouth against the truth's exact landmarks, beside the
  /// unedited clip's exact distance (frame pixels): how much of the goal the target itself
  /// allows, apart from rendering and the FAN's measuring error.
  var targetMouthDistance: Double?
  var exactUneditedMouthDistance: Double?

  /// edited/unedited M-LD; the goal is ≤ 0.5.
  var mouthRatio: Double { editedMouthDistance / max(uneditedMouthDistance, 1e-9) }

  static let goals = "edited M-LD ≤ ½ unedited, PSNR outside the face ≥ 40 dB, seam ≤ 1.5"

  var meetsGoals: Bool { mouthRatio <= 0.5 && psnrOutsideFace >= 40 && seamMetric <= 1.5 }

  /// Measures `edited` and `clip` against `truth`; `landmarks()` makes a fresh landmark source
  /// for one video (it sees frames in order); `describe` says what it is.
  static func measure(edited: String, clip: String, truth: String, talking: TalkingClip, seamMetric: Double,
                      landmarks: () throws -> any FrameLandmarkSource, describe: String,
                      progress: (String, Int, Int) -> Void = { _, _, _ in }) throws -> DemoMeasurement {
    let evaluator = EditEvaluator()
    func mouthDistance(_ video: String, _ what: String) throws -> Double {
      let result = try evaluator.evaluate(edited: video, reference: truth, editedLandmarks: try landmarks(),
                                          referenceLandmarks: try landmarks()) { progress(what, $0, $1) }
      guard let m = result.means.mouthLandmarkDistance else {
        throw ValidationError("no frame of \(video) had landmarks on both sides: \(result.notes.joined(separator: "; "))")
      }
      return m
    }
    let editedDistance = try mouthDistance(edited, "edited vs truth")
    let uneditedDistance = try mouthDistance(clip, "original vs truth")
    let margin = max(2, talking.configuration.width / 32)
    let editedReader = try VideoReader(path: edited), clipReader = try VideoReader(path: clip)
    var squared = 0.0, pixels = 0
    var index = 0
    while let a = try editedReader.nextFrame(), let b = try clipReader.nextFrame(), index < talking.frameCount {
      let outside = talking.faceRegion(index, margin: margin).map { !$0 }
      if let psnr = ImageQuality.psnr(a.image, b.image, where: outside) {
        let count = outside.reduce(0) { $0 + ($1 ? 1 : 0) }
        squared += (psnr.isInfinite ? 0 : pow(10, -psnr / 10)) * Double(count)
        pixels += count
      }
      index += 1
      progress("outside the face", index, talking.frameCount)
    }
    let mse = squared / Double(max(pixels, 1))
    return DemoMeasurement(editedMouthDistance: editedDistance, uneditedMouthDistance: uneditedDistance,
                           psnrOutsideFace: mse == 0 ? .infinity : 10 * log10(1 / mse), faceMargin: margin,
                           seamMetric: seamMetric, frames: index, landmarks: describe)
  }

  /// The dub's target landmarks (the prepare stage's audio-to-landmark inference, emotion from the
  /// dub, on the clip's own landmarks, calibrated with the clip's soundtrack) and the clip's landmarks, each against the truth's:
  /// mean mouth-point distance over the frames, exact (no FAN).
  static func targetDistances(model: AudioToLandmarksModel, dub: URL, clipVideo: URL, clip: LandmarkTrack, truth: LandmarkTrack,
                              fps: Double) throws -> (target: Double, unedited: Double) {
    let samples = try SpeechInput.samples(path: dub.path)
    let original = clip.frames.map(\.points)
    let windows = SpeechInput.windows(samples, frames: original.count, fps: fps)
    let inference = AudioToLandmarksInference(model: model)
    let code = try inference.emotionCode(.auto, dubWindows: windows, strength: 1)
    let own = SpeechInput.windows(try SpeechInput.samples(path: clipVideo.path), frames: original.count, fps: fps)
    let offsets = inference.speakerOffsets(ownWindows: own, original: original, faceFound: clip.frames.map(\.faceFound))
    let target = inference.landmarks(dubWindows: windows, emotion: code, original: original, speakerOffsets: offsets)
    func mouth(_ a: [[SIMD2<Double>]]) -> Double {
      var sum = 0.0, count = 0
      for (f, points) in a.enumerated() where f < truth.frames.count {
        for k in 48..<68 {
          let d = points[k] - truth.frames[f].points[k]
          sum += (d * d).sum().squareRoot()
          count += 1
        }
      }
      return sum / Double(max(count, 1))
    }
    return (mouth(target), mouth(original))
  }

  var summary: String {
    let target = targetMouthDistance.map { t in
      String(format: "\naudio-to-landmarks target vs truth (exact landmarks): %.2f px, unedited %.2f px (ratio %.2f: the best an edit that follows the target can do)",
             t, exactUneditedMouthDistance ?? .nan, t / max(exactUneditedMouthDistance ?? .nan, 1e-9))
    } ?? ""
    return String(format: """
      mouth landmark distance (M-LD) to the ground truth: edited %.2f px, unedited %.2f px (ratio %.2f, goal ≤ 0.5)
      PSNR outside the face (margin %d px) against the original: %.1f dB (goal ≥ 40)
      seam metric: %.3f (goal ≤ 1.5) — %@
      """, editedMouthDistance, uneditedMouthDistance, mouthRatio, faceMargin, psnrOutsideFace, seamMetric,
      meetsGoals ? "all goals met" : "goals NOT met") + target
  }
}
