import DemoWorld
import Foundation
import TestSupport

@testable import Dubbing

extension SyntheticSpeechCorpus {
  /// The training form: MFCC windows per frame; sentence `heldOut` is validation.
  static func dataset(_ clips: [Clip], heldOutSentence: String) throws -> AudioToLandmarksDataset {
    try AudioToLandmarksDataset(clips: clips.enumerated().map { i, c in
      let windows = SpeechInput.windows(c.samples, frames: c.landmarks.count, fps: fps)
      return try AudioToLandmarksClip(
        name: "clip\(i)", windows: windows, landmarks: c.landmarks, faceFound: Array(repeating: true, count: c.landmarks.count),
        emotion: c.emotion, speaker: c.speaker, sentence: c.sentence, angle: c.angle, isValidation: c.sentence == heldOutSentence)
    })
  }

}
