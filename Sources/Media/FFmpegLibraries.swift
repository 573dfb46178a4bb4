import CFFmpeg
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

  /// Unpacks AV_VERSION_INT(major, minor, micro) into "major.minor.micro".
  static func decode(_ packed: UInt32) -> String {
    "\(redub_av_version_major(packed)).\(redub_av_version_minor(packed)).\(redub_av_version_micro(packed))"
  }
}
