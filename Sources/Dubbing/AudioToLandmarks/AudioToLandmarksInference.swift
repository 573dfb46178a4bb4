import Foundation
import Networks
import Tensors

/// The dubbed speech → the landmarks the editor must produce, frame by frame, in the original
/// clip's head pose.
public struct AudioToLandmarksInference {
  public enum Emotion: Sendable, Equatable {
    /// From the dub itself.
    case auto
    /// A class the model was trained on, by name (its mean emotion code).
    case named(String)
    /// From another recording.
    case reference([Float])
  }

  public let model: AudioToLandmarksModel

  public init(model: AudioToLandmarksModel) { self.model = model }

  /// The clip-level emotion code [1, emotionSize] of MFCC windows [T, 28, 12].
  public func emotionCode(windows: Tensor) -> Tensor {
    model.disentangler.emotionCode(model.standardized(windows).unsqueezed(at: 0)).detached()
  }

  /// Probabilities of each emotion class for the windows.
  public func emotionProbabilities(windows: Tensor) -> [Float] {
    model.disentangler.classify(emotionCode(windows: windows)).softmax(axis: 1).scalars
  }

  /// The emotion code to speak with; `strength` 0 is neutral (the first class's prototype,
  /// which is `neutral` when the model knows it), 1 the chosen emotion in full.
  public func emotionCode(_ emotion: Emotion, dubWindows: Tensor, strength: Float) throws -> Tensor {
    let c = model.configuration
    let prototypes = model.emotionPrototypes.parameter.value
    let chosen: Tensor
    switch emotion {
    case .auto: chosen = emotionCode(windows: dubWindows)
    case .named(let name):
      guard let i = c.emotions.firstIndex(of: name) else { throw AudioToLandmarksError.unknownEmotion(name, c.emotions) }
      chosen = prototypes.slice(axis: 0, i..<(i + 1))
    case .reference(let code):
      chosen = Tensor(code, shape: [1, c.emotionSize])
    }
    let neutral = prototypes.slice(axis: 0, 0..<1)
    return neutral + (chosen - neutral) * strength
  }

  /// windows [T, 28, 12] of the dub, one per clip frame; `original` the clip's landmarks in
  /// pixels (frames without a face already filled) → target landmarks in pixels. Each frame's
  /// prediction is snapped onto the clip's own face (`anchor(_:to:)`); `speakerOffsets` (from
  /// `speakerOffsets(ownWindows:original:faceFound:)`) are added in each frame's pose.
  public func landmarks(dubWindows: Tensor, emotion: Tensor, original: [[SIMD2<Double>]],
                        speakerOffsets: [SIMD2<Double>]? = nil) -> [[SIMD2<Double>]] {
    let frames = original.count
    precondition(dubWindows.shape[0] == frames, "one MFCC window per clip frame: \(dubWindows.shape[0]) for \(frames)")
    let canonical = original.map(LandmarkGeometry.canonical)
    let reference = (0..<68).map { k in canonical.reduce(SIMD2<Double>.zero) { $0 + $1[k] } / Double(frames) }
    let clipFrame = LandmarkGeometry.clipFrame(original)
    let content = model.disentangler.contentCodes(model.standardized(dubWindows)).unsqueezed(at: 0).detached()
    let predicted = model.predictor(content: content, emotion: emotion, reference: [reference].landmarkTensor()).detached()
    let poses = original.map { $0.map { ($0 - clipFrame.center) / clipFrame.size } }
    let aligned = model.alignment(predicted: predicted.reshaped([frames, 68, 2]), pose: poses.landmarkTensor()).detached()
    let v = aligned.scalars
    let (center, size) = clipFrame
    return (0..<frames).map { t -> [SIMD2<Double>] in
      let predicted = (0..<68).map { k -> SIMD2<Double> in
        let i = (t * 68 + k) * 2
        let point = SIMD2<Double>(Double(v[i]), Double(v[i + 1]))
        return point * size + center
      }
      var points = Self.anchor(predicted, to: original[t])
      if let offsets = speakerOffsets {
        let pose = LandmarkGeometry.pose(of: original[t])
        let turn = Similarity2D(scale: pose.scale, angle: pose.angle, translation: .zero)
        for k in 0..<68 { points[k] += turn.apply(offsets[k]) }
      }
      return points
    }
  }

  /// What the model gets wrong about this speaker: run on the clip's own speech (`ownWindows`,
  /// one per clip frame, its emotion heard in that speech) and compared with the clip's own
  /// landmarks, the mean difference of each landmark over the frames with a face, in each
  /// frame's canonical units (the face's pose removed). The model knows the speaker only by
  /// the mean face it is given, which mixes the mouth's rest shape with how it moved in the
  /// clip; this measures the rest (on the demo clip: 0.8 px of mouth shape, 1.43 → 1.21 px to
  /// the truth). Eyes and nose come out zero (`anchor` keeps or fits them).
  public func speakerOffsets(ownWindows: Tensor, original: [[SIMD2<Double>]], faceFound: [Bool]) -> [SIMD2<Double>] {
    let own = landmarks(dubWindows: ownWindows, emotion: emotionCode(windows: ownWindows), original: original)
    var sum = [SIMD2<Double>](repeating: .zero, count: 68), count = 0
    for t in original.indices where t < faceFound.count && faceFound[t] {
      let pose = LandmarkGeometry.pose(of: original[t])
      for k in 0..<68 { sum[k] += pose.inverse(original[t][k]) - pose.inverse(own[t][k]) }
      count += 1
    }
    return sum.map { $0 / Double(max(count, 1)) }
  }

  /// The nose (points 27–35), which speech does not move.
  static let anchorPoints = Array(27..<36)
  /// The eyes (36–47): blinks and gaze belong to the clip's performance, not to the dub.
  static let keptPoints = 36..<48

  /// `predicted` moved by the similarity that lays its nose onto `original`'s, with
  /// `original`'s eyes. The alignment network places the face to about half a pixel on the
  /// demo clip (measured: nose, eyes and brows 0.5 px off the clip's own); a mouth carried that
  /// far off is as wrong as a misread one, and L_fan would pull the eyes by it.
  public static func anchor(_ predicted: [SIMD2<Double>], to original: [SIMD2<Double>]) -> [SIMD2<Double>] {
    let fit = LandmarkGeometry.similarity(from: anchorPoints.map { predicted[$0] }, to: anchorPoints.map { original[$0] })
    var anchored = predicted.map(fit.apply)
    for k in keptPoints { anchored[k] = original[k] }
    return anchored
  }
}

/// How well a model does on clips it may not have seen.
public struct AudioToLandmarksEvaluation: Sendable, CustomStringConvertible {
  /// Mean distance per landmark between predicted and true canonical faces (unit: the face's
  /// RMS radius).
  public var landmarkError: Double
  /// The same for always predicting the speaker's mean face.
  public var meanFaceError: Double
  /// Share of clips whose emotion the classifier names.
  public var emotionAccuracy: Double
  /// Mean distance per landmark between the aligned landmarks and the true ones, in pixels,
  /// when each frame's pose comes from landmarks with another frame's mouth (as a dub's clip
  /// gives it: the right pose, the wrong words).
  public var alignedPixelError: Double
  /// The same for the pose-giving landmarks themselves (what not editing would leave).
  public var poseGivingPixelError: Double
  /// The same for the predicted faces placed at the clip's mean face position and size, without
  /// the alignment network (what ignoring the head's motion would give).
  public var unalignedPixelError: Double

  public var description: String {
    String(format: "landmark error %.4f (mean face %.4f, ratio %.2f), emotion accuracy %.0f%%, aligned error %.2f px (unaligned %.2f px, unedited %.2f px)",
           landmarkError, meanFaceError, landmarkError / max(meanFaceError, 1e-12), emotionAccuracy * 100, alignedPixelError,
           unalignedPixelError, poseGivingPixelError)
  }

  public init(model: AudioToLandmarksModel, clips: [AudioToLandmarksClip]) {
    let inference = AudioToLandmarksInference(model: model)
    var error = 0.0, meanError = 0.0, aligned = 0.0, unedited = 0.0, unaligned = 0.0, correct = 0, points = 0
    for clip in clips {
      let code = inference.emotionCode(windows: clip.windows)
      let probabilities = model.disentangler.classify(code).scalars
      if model.configuration.emotions[probabilities.indices.max { probabilities[$0] < probabilities[$1] }!] == clip.emotion { correct += 1 }
      let reference = clip.referenceFace
      let content = model.disentangler.contentCodes(model.standardized(clip.windows)).unsqueezed(at: 0)
      let predicted = model.predictor(content: content, emotion: code, reference: [reference].landmarkTensor()).scalars
      let half = clip.frameCount / 2
      let poseGiving = (0..<clip.frameCount).map { t in clip.face(t, withExpressionOf: (t + half) % clip.frameCount) }
      let target = inference.landmarks(dubWindows: clip.windows, emotion: code, original: poseGiving)
      for t in 0..<clip.frameCount {
        for k in 0..<68 {
          let p = SIMD2(Double(predicted[(t * 68 + k) * 2]), Double(predicted[(t * 68 + k) * 2 + 1]))
          error += simdLengthSquared(p - clip.canonical[t][k]).squareRoot()
          meanError += simdLengthSquared(reference[k] - clip.canonical[t][k]).squareRoot()
          aligned += simdLengthSquared(target[t][k] - clip.landmarks[t][k]).squareRoot()
          unedited += simdLengthSquared(poseGiving[t][k] - clip.landmarks[t][k]).squareRoot()
          unaligned += simdLengthSquared(p * clip.clipFrame.size + clip.clipFrame.center - clip.landmarks[t][k]).squareRoot()
          points += 1
        }
      }
    }
    let n = Double(max(points, 1))
    landmarkError = error / n
    meanFaceError = meanError / n
    alignedPixelError = aligned / n
    poseGivingPixelError = unedited / n
    unalignedPixelError = unaligned / n
    emotionAccuracy = Double(correct) / Double(max(clips.count, 1))
  }
}
