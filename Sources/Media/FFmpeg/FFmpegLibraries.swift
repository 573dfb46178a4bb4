import CFFmpeg
import Foundation
import CFFmpegShim

/// The FFmpeg libraries linked at run time, and what their build can encode and decode.
public enum FFmpegLibraries {
  /// libavformat's version, "major.minor.micro".
  public static var avformatVersion: String { decode(avformat_version()) }
  /// libavcodec's version.
  public static var avcodecVersion: String { decode(avcodec_version()) }
  /// libavutil's version.
  public static var avutilVersion: String { decode(avutil_version()) }
  /// libswscale's version.
  public static var swscaleVersion: String { decode(swscale_version()) }
  /// libswresample's version.
  public static var swresampleVersion: String { decode(swresample_version()) }

  /// The FFmpeg release the libraries came from ("5.1.6-0+deb12u1"), from `av_version_info`.
  public static var ffmpegVersion: String {
    guard let info = av_version_info() else { return "unknown" }
    return String(cString: info)
  }

  /// Every library with its version, in dependency order, for `--version` and bug reports.
  public static var versions: [(library: String, version: String)] {
    [
      ("libavformat", avformatVersion),
      ("libavcodec", avcodecVersion),
      ("libavutil", avutilVersion),
      ("libswscale", swscaleVersion),
      ("libswresample", swresampleVersion),
    ]
  }

  /// One line naming the release and each library version.
  public static var summary: String {
    "FFmpeg \(ffmpegVersion) (" + versions.map { "\($0.library) \($0.version)" }.joined(separator: ", ") + ")"
  }

  /// Whether libavcodec has an encoder with this name ("libx264", "aac").
  public static func hasEncoder(named name: String) -> Bool {
    avcodec_find_encoder_by_name(name) != nil
  }

  /// Whether libavcodec has a decoder with this name ("h264", "aac").
  public static func hasDecoder(named name: String) -> Bool {
    avcodec_find_decoder_by_name(name) != nil
  }

  /// FFmpeg's own log level: errors only by default (libx264's statistics and demuxer notes
  /// would otherwise fill standard error); REDUB_FFMPEG_LOG=info|warning|debug shows more.
  public static func setLogLevel(_ level: Int32) { av_log_set_level(level) }

  /// Applies REDUB_FFMPEG_LOG (or errors only) once, before the first file is opened.
  static let configureLogging: Void = {
    let levels: [String: Int32] = ["quiet": AV_LOG_QUIET, "error": AV_LOG_ERROR, "warning": AV_LOG_WARNING,
                                   "info": AV_LOG_INFO, "verbose": AV_LOG_VERBOSE, "debug": AV_LOG_DEBUG]
    let name = ProcessInfo.processInfo.environment["REDUB_FFMPEG_LOG"]?.lowercased() ?? "error"
    av_log_set_level(levels[name] ?? AV_LOG_ERROR)
  }()

  /// Unpacks AV_VERSION_INT(major, minor, micro) into "major.minor.micro".
  static func decode(_ packed: UInt32) -> String {
    "\(redub_av_version_major(packed)).\(redub_av_version_minor(packed)).\(redub_av_version_micro(packed))"
  }
}
