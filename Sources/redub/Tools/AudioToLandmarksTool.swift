import ArgumentParser
import Dubbing
import Foundation
import Networks
import Tensors

/// `redub tools audio2landmarks`: the dub's landmarks for every frame of the clip.
struct AudioToLandmarksTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audio2landmarks",
    abstract: "Predict the landmarks of a dubbed speech track, in the clip's head pose.",
    discussion: """
      Reads the dub (any audio FFmpeg reads, resampled to 16 kHz mono) and the clip's landmarks \
      (from `redub tools landmarks`); writes [frames, 68, 2] target landmarks in the clip's \
      pixels, one per clip frame, in the same file form. The clip sets the frame count: a dub \
      shorter than the clip is padded with silence (closed mouth) and a longer one is trimmed, \
      each with a note; --audio-length error refuses a difference of more than one frame. \
      Frames of the clip without a face get no target (face_found 0) and stay unedited. \
      --emotion auto takes the emotion from the dub, a class name from the model's list its \
      mean; --emotion-audio REF takes it from another recording; --emotion-strength scales the \
      move from neutral (0) to the chosen emotion (1). --speaker-audio CLIP (the clip itself, or \
      its soundtrack) calibrates the model to the speaker: the model's error on the speaker's own \
      speech against the clip's landmarks is corrected in the dub's targets, as `redub edit` \
      does with the clip's soundtrack.
      """)

  enum AudioLength: String, ExpressibleByArgument, CaseIterable { case fit, error }

  @OptionGroup var runtime: RuntimeOptions

  @Option(help: ArgumentHelp("The trained model (redub train audio2landmarks).", valueName: "file"))
  var model: String

  @Option(help: ArgumentHelp("The dubbed speech.", valueName: "file"))
  var audio: String

  @Option(help: ArgumentHelp("The clip's landmarks (redub tools landmarks).", valueName: "file"))
  var landmarks: String

  @Option(help: "auto, or one of the model's emotion classes.")
  var emotion = "auto"

  @Option(help: ArgumentHelp("Take the emotion from this recording instead.", valueName: "file"))
  var emotionAudio: String?

  @Option(help: "From neutral (0) to the chosen emotion (1).")
  var emotionStrength: Float = 1

  @Option(help: ArgumentHelp("The clip's own speech (the clip, or its soundtrack), to calibrate the model to the speaker.", valueName: "file"))
  var speakerAudio: String?

  @Option(help: "A dub whose length differs from the clip's: fit (pad with silence or trim) or error.")
  var audioLength: AudioLength = .fit

  @Flag(help: "Accept a silent dub (it gives a closed mouth).")
  var allowSilence = false

  @Option(help: ArgumentHelp("Where to write the target landmarks (safetensors).", valueName: "file"))
  var output: String

  func validate() throws {
    if !(0...1).contains(emotionStrength) { throw ValidationError("--emotion-strength must be in 0…1.") }
    if emotionAudio != nil && emotion != "auto" { throw ValidationError("give --emotion or --emotion-audio, not both.") }
  }

  func run() throws {
    runtime.apply()
    let network = try loadWeights("audio2landmarks", from: model, AudioToLandmarksModel.init(contentsOf:))
    let track = try LandmarkTrack(contentsOf: URL(fileURLWithPath: landmarks))
    let frames = track.frames.count
    guard let filled = AudioToLandmarksClip.fillMissing(track.frames.map(\.points), faceFound: track.frames.map(\.faceFound)) else {
      throw AudioToLandmarksError.noFace("\(landmarks): no frame of the clip has a face; there is nothing to dub")
    }
    let samples = try SpeechInput.samples(path: audio)
    if SpeechInput.isSilent(samples) && !allowSilence { throw AudioToLandmarksError.silentAudio(audio) }
    let dubFrames = SpeechInput.frameCount(samples, fps: track.frameRate)
    if abs(dubFrames - frames) > 1 {
      let what = String(format: "the dub lasts %.2f s (%d frames at %.3f fps), the clip %d frames",
                        Double(samples.count) / 16_000, dubFrames, track.frameRate, frames)
      if audioLength == .error { throw AudioToLandmarksError.lengthMismatch("\(what); use --audio-length fit to pad or trim") }
      print(dubFrames < frames ? "note: \(what): padding the dub with silence" : "note: \(what): trimming the dub")
    }
    let windows = SpeechInput.windows(samples, frames: frames, fps: track.frameRate)
    let inference = AudioToLandmarksInference(model: network)
    let choice: AudioToLandmarksInference.Emotion
    if let emotionAudio {
      let reference = try SpeechInput.samples(path: emotionAudio)
      let referenceWindows = SpeechInput.windows(reference, frames: max(1, SpeechInput.frameCount(reference, fps: track.frameRate)),
                                                 fps: track.frameRate)
      choice = .reference(inference.emotionCode(windows: referenceWindows).scalars)
    } else {
      choice = emotion == "auto" ? .auto : .named(emotion)
    }
    let code = try inference.emotionCode(choice, dubWindows: windows, strength: emotionStrength)
    let heard = zip(network.configuration.emotions, inference.emotionProbabilities(windows: windows))
      .map { String(format: "%@ %.0f%%", $0, $1 * 100) }.joined(separator: ", ")
    print("emotion heard in the dub: \(heard)")
    var offsets: [SIMD2<Double>]?
    if let speakerAudio {
      let own = try SpeechInput.samples(path: speakerAudio)
      if SpeechInput.isSilent(own) { throw AudioToLandmarksError.silentAudio(speakerAudio) }
      let ownWindows = SpeechInput.windows(own, frames: frames, fps: track.frameRate)
      offsets = inference.speakerOffsets(ownWindows: ownWindows, original: filled, faceFound: track.frames.map(\.faceFound))
      print("calibrated to the speaker with \(speakerAudio)")
    }
    let target = inference.landmarks(dubWindows: windows, emotion: code, original: filled, speakerOffsets: offsets)
    let result = LandmarkTrack(
      frames: (0..<frames).map { t in
        track.frames[t].faceFound ? TrackedLandmarks(points: target[t], scores: track.frames[t].scores, source: track.frames[t].source) : .missing
      },
      width: track.width, height: track.height, frameRate: track.frameRate)
    try result.write(to: URL(fileURLWithPath: output))
    let missing = result.missingFrames
    print("\(frames) frames" + (missing.isEmpty ? "" : ", no face (left unedited) in \(LandmarkTrackError.ranges(missing))"))
    print("wrote \(output)")
  }
}
