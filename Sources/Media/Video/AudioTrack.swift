/// The sound a `VideoWriter` muxes beside the video. It is cut at the end of the video.
public enum AudioTrack: Sendable {
  /// A silent file: no audio stream.
  case none
  /// PCM samples, encoded to AAC (at their own rate where AAC has it, else the nearest AAC rate).
  case samples(AudioBuffer)
  /// The best audio stream of a file: copied packet for packet when the container takes its
  /// codec (AAC, MP3 into MP4), otherwise decoded and encoded to AAC.
  case file(String)
  /// The best audio stream of a file, always decoded and encoded to AAC.
  case fileReencoded(String)
}
