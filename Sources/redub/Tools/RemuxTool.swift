import ArgumentParser
import Foundation
import Media

/// `redub tools remux VIDEO --audio AUDIO --output OUT.mp4`: decode, re-encode, new audio.
struct RemuxTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "remux",
    abstract: "Re-encode a video's frames and mux another audio track (the skeleton of redub's last stage).",
    discussion: """
      Every frame is decoded and encoded again (H.264 in MP4 where FFmpeg has libx264), keeping \
      each frame's timestamp, the frame rate and the rotation. The audio is copied when the \
      container takes its codec (AAC, MP3), otherwise encoded to AAC, and is cut at the video's \
      end. The output appears only once complete.
      """)

  @OptionGroup var runtime: RuntimeOptions

  @Argument(help: ArgumentHelp("The video whose frames to keep.", valueName: "video"))
  var video: String

  @Option(help: ArgumentHelp("The new sound (any audio file, or a video's audio).", valueName: "file"))
  var audio: String

  @Option(help: ArgumentHelp("Where to write the result (.mp4, .mov, .mkv).", valueName: "file"))
  var output: String

  @Option(help: "Quality: libx264's constant rate factor (lower is better; 18 is near-lossless).")
  var crf = 18

  @Option(help: "libx264 preset (ultrafast … veryslow).")
  var preset = "veryfast"

  @Flag(help: "Always encode the audio to AAC, even when it could be copied.")
  var reencodeAudio = false

  func validate() throws {
    if !(0...51).contains(crf) { throw ValidationError("--crf must be 0…51 (got \(crf)).") }
  }

  func run() throws {
    runtime.apply()
    let settings = VideoEncoderSettings(crf: crf, preset: preset)
    let track: AudioTrack = reencodeAudio ? .fileReencoded(audio) : .file(audio)
    var bar: ProgressBar?
    let start = ContinuousClock.now
    let summary = try VideoRemuxer.remux(video: video, audio: track, output: output, settings: settings, progress: { done, total in
      if bar == nil { bar = ProgressBar(title: "remux", total: total) }
      if done == total || done % 10 == 0 { bar?.update(done, note: "\(done)/\(total) frames") }
    })
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    print(String(format: "%@: %d frames %d×%d (%@), %.2f s of video, in %.1f s (%.1f fps)", output, summary.frames,
                 summary.width, summary.height, summary.videoCodec, summary.duration, seconds, Double(summary.frames) / seconds))
  }
}
