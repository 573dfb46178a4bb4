import ArgumentParser
import Foundation
import Media
import Tensors

/// `redub tools mfcc AUDIO --output OUT.safetensors`: python_speech_features-compatible MFCCs.
struct MFCCTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "mfcc",
    abstract: "Compute MFCCs of an audio file (or a video's sound) and write them as safetensors.",
    discussion: """
      The audio is decoded to 16 kHz mono (the mean of its channels). Tensor `mfcc` is \
      [frames, 13]: python_speech_features.mfcc(signal, 16000) with winlen 0.025, winstep 0.01, \
      nfilt 26, nfft 512, preemph 0.97, ceplifter 22, appendEnergy. With --fps, tensor `windows` \
      [video frames, 28, 12] holds the audio-to-landmark network's per-frame windows (EVP's \
      convention); --log-mel adds `log_mel` [frames, 80] (n_fft 800, hop 200).
      """)

  @OptionGroup var runtime: RuntimeOptions

  @Argument(help: ArgumentHelp("An audio or video file FFmpeg reads.", valueName: "audio"))
  var audio: String

  @Option(help: ArgumentHelp("Where to write the tensors (.safetensors).", valueName: "file"))
  var output: String

  @Option(help: ArgumentHelp("Also write per-video-frame windows at this frame rate (25 for EVP).", valueName: "fps"))
  var fps: Double?

  @Option(help: ArgumentHelp("With --fps: the number of video frames (default: as many windows as fit).", valueName: "n"))
  var frames: Int?

  @Flag(help: "Also write the 80-band log-mel spectrogram as `log_mel`.")
  var logMel = false

  func validate() throws {
    if let fps, fps <= 0 { throw ValidationError("--fps must be positive (got \(fps)).") }
    if let frames, frames < 1 { throw ValidationError("--frames must be at least 1 (got \(frames)).") }
    if frames != nil, fps == nil { throw ValidationError("--frames needs --fps.") }
  }

  func run() throws {
    runtime.apply()
    let speech = try AudioReader.load(path: audio, sampleRate: 16_000)
    var tensors = ["mfcc": MFCC()(speech.samples)]
    if let fps { tensors["windows"] = SpeechWindows(framesPerSecond: fps)(speech.samples, frameCount: frames) }
    if logMel { tensors["log_mel"] = LogMelSpectrogram()(speech.samples) }
    let metadata = [
      "source": audio, "sample_rate": "16000", "samples": String(speech.frameCount),
      "mfcc": "python_speech_features.mfcc(signal, 16000, winlen=0.025, winstep=0.01, numcep=13, nfilt=26, nfft=512, preemph=0.97, ceplifter=22, appendEnergy=True)",
    ]
    do {
      try SafeTensors.write(tensors, metadata: metadata, to: URL(fileURLWithPath: output))
    } catch {
      throw MediaError.cannotWrite(path: output, reason: "\(error)")
    }
    let shapes = tensors.keys.sorted().map { "\($0) \(tensors[$0]!.shape)" }.joined(separator: ", ")
    print(String(format: "%@: %.2f s of audio → %@", output, speech.duration, shapes))
  }
}
