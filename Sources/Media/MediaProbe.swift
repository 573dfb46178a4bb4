import CFFmpeg
import CFFmpegShim

/// What a media file holds: its container, every stream, and the exact details of its main video
/// and audio streams (the video's frames are counted from its packets).
public struct MediaProbe: Sendable {
  public struct Stream: Sendable, Equatable {
    public let index: Int
    /// "video", "audio", "subtitle", "data", "attachment" or "unknown".
    public let kind: String
    public let codec: String
    /// Seconds, when the container says.
    public let duration: Double?
  }

  public let path: String
  public let container: String
  /// Seconds, from the container.
  public let duration: Double?
  /// Bits per second, from the container.
  public let bitRate: Int?
  public let streams: [Stream]
  /// The main video stream (nil when there is none).
  public let video: VideoInfo?
  /// The main audio stream (nil when there is none).
  public let audio: AudioInfo?

  public init(path: String) throws {
    let input = try InputFile(path: path)
    self.path = path
    container = input.formatName
    duration = input.duration
    bitRate = input.context.pointee.bit_rate > 0 ? Int(input.context.pointee.bit_rate) : nil
    streams = (0..<input.streamCount).map { i in
      let s = input.stream(i).pointee
      let kind = switch s.codecpar.pointee.codec_type {
      case AVMEDIA_TYPE_VIDEO: "video"
      case AVMEDIA_TYPE_AUDIO: "audio"
      case AVMEDIA_TYPE_SUBTITLE: "subtitle"
      case AVMEDIA_TYPE_DATA: "data"
      case AVMEDIA_TYPE_ATTACHMENT: "attachment"
      default: "unknown"
      }
      let d = s.duration != redub_av_nopts_value() && s.duration > 0 ? Rational(s.time_base).seconds(s.duration) : nil
      return Stream(index: i, kind: kind, codec: String(cString: avcodec_get_name(s.codecpar.pointee.codec_id)), duration: d)
    }
    do { video = try VideoReader(path: path).info } catch MediaError.noVideoStream { video = nil }
    do { audio = try AudioReader(path: path, sampleRate: nil, channels: nil).info } catch MediaError.noAudioStream { audio = nil }
  }
}
