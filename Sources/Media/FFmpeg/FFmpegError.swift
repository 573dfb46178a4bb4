import CFFmpegShim

/// A failure from an FFmpeg library, keeping its AVERROR code and `av_strerror` text.
public enum FFmpegError: Error, CustomStringConvertible, Equatable, Sendable {
  /// A libav* call returned a negative AVERROR code.
  case library(operation: String, code: Int32, message: String)
  /// The linked libavcodec has no codec of this name.
  case codecNotFound(name: String)

  /// Wraps a negative AVERROR code, looking up its message.
  public init(code: Int32, operation: String = "FFmpeg") {
    self = .library(operation: operation, code: code, message: FFmpegError.message(for: code))
  }

  /// Returns `result` when it is not an error, so calls read `let n = try FFmpegError.check(...)`.
  @discardableResult
  public static func check(_ result: Int32, _ operation: @autoclosure () -> String) throws(FFmpegError) -> Int32 {
    if result < 0 { throw FFmpegError(code: result, operation: operation()) }
    return result
  }

  /// The AVERROR code (AVERROR_ENCODER_NOT_FOUND for `.codecNotFound`).
  public var code: Int32 {
    switch self {
    case .library(_, let code, _): code
    case .codecNotFound: redub_averror_encoder_not_found()
    }
  }

  /// `av_strerror`'s text for the code.
  public var message: String {
    switch self {
    case .library(_, _, let message): message
    case .codecNotFound(let name): "no codec named '\(name)'"
    }
  }

  /// AVERROR_EOF, which C callers get from a macro.
  public static var endOfFileCode: Int32 { redub_averror_eof() }

  /// AVERROR(EAGAIN), which C callers get from a macro.
  public static var tryAgainCode: Int32 { redub_averror_eagain() }

  /// AVERROR_EOF: the stream or the drained codec has nothing more.
  public var isEndOfFile: Bool { code == FFmpegError.endOfFileCode }

  /// AVERROR(EAGAIN): feed the codec more input, or read its output first.
  public var isTryAgain: Bool { code == FFmpegError.tryAgainCode }

  public var description: String {
    switch self {
    case .library(let operation, let code, let message):
      "\(operation): \(message) (AVERROR \(code))"
    case .codecNotFound(let name):
      "no codec named '\(name)' in the linked libavcodec; install a build that has it "
        + "(Debian's libavcodec-extra) or choose another codec"
    }
  }

  static func message(for code: Int32) -> String {
    let size = redub_av_error_max_string_size()
    var buffer = [CChar](repeating: 0, count: size)
    redub_av_err2str(code, &buffer, size)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
