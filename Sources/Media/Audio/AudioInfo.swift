/// What an audio stream holds, and what an `AudioReader` delivers from it.
public struct AudioInfo: Sendable, Equatable {
  public let path: String
  /// The codec ("aac", "pcm_s16le", "mp3").
  public let codec: String
  /// The stream's own rate and channel count.
  public let sampleRate: Int
  public let channels: Int
  /// Seconds, from the container (nil when it does not say).
  public let duration: Double?
  /// The stream's bit rate in bits per second, when known.
  public let bitRate: Int?
  /// The rate and channel count the reader delivers.
  public let outputSampleRate: Int
  public let outputChannels: Int
}
