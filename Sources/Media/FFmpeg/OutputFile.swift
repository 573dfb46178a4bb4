import CFFmpeg
import Foundation

/// A container being written (an AVFormatContext for output) to a temporary file beside the
/// destination, renamed over it only by `finish()`: a crash or an error never leaves a
/// truncated file under the final name. The temporary file is removed in `deinit` unless finished.
final class OutputFile {
  let path: String
  let temporaryPath: String
  let context: UnsafeMutablePointer<AVFormatContext>
  private var opened = false
  private(set) var finished = false

  /// Picks the container from the extension of `path` ("mp4", "mov", "mkv", "wav", "m4a"...).
  init(path: String) throws {
    self.path = path
    FFmpegLibraries.configureLogging
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent().path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw MediaError.cannotWrite(path: path, reason: "directory '\(directory)' does not exist")
    }
    guard let format = av_guess_format(nil, path, nil) else {
      throw MediaError.cannotWrite(path: path, reason: "no container for extension '.\(url.pathExtension)' (use .mp4, .mov, .mkv, .wav, .m4a, .flac)")
    }
    let suffix = url.pathExtension.isEmpty ? "" : "." + url.pathExtension
    let random = UInt32.random(in: 0...UInt32.max)
    temporaryPath = url.deletingLastPathComponent()
      .appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())-\(String(random, radix: 16))\(suffix)").path
    var context: UnsafeMutablePointer<AVFormatContext>? = nil
    let result = avformat_alloc_output_context2(&context, format, nil, temporaryPath)
    guard result >= 0, let context else {
      throw MediaError.cannotWrite(path: path, reason: FFmpegError(code: result, operation: "avformat_alloc_output_context2").description)
    }
    self.context = context
  }

  deinit {
    if opened, !finished { avio_closep(&context.pointee.pb) }
    avformat_free_context(context)
    if !finished { try? FileManager.default.removeItem(atPath: temporaryPath) }
  }

  var format: UnsafePointer<AVOutputFormat> { context.pointee.oformat }

  /// Whether encoders must put codec headers in extradata (MP4 and MKV do).
  var wantsGlobalHeader: Bool { format.pointee.flags & AVFMT_GLOBALHEADER != 0 }

  /// Whether the container can hold a stream of `codec` without re-encoding.
  func accepts(_ codec: AVCodecID) -> Bool {
    avformat_query_codec(format, codec, FF_COMPLIANCE_NORMAL) == 1
  }

  func addStream() -> UnsafeMutablePointer<AVStream> {
    guard let stream = avformat_new_stream(context, nil) else { fatalError("avformat_new_stream: out of memory") }
    return stream
  }

  /// Opens the temporary file and writes the container header.
  func writeHeader(options: [String: String]) throws {
    if format.pointee.flags & AVFMT_NOFILE == 0 {
      let result = avio_open(&context.pointee.pb, temporaryPath, AVIO_FLAG_WRITE)
      if result < 0 {
        throw MediaError.cannotWrite(path: path, reason: FFmpegError(code: result, operation: "avio_open").description)
      }
      opened = true
    }
    var dictionary: OpaquePointer? = nil
    for (key, value) in options { av_dict_set(&dictionary, key, value, 0) }
    defer { av_dict_free(&dictionary) }
    let result = avformat_write_header(context, &dictionary)
    if result < 0 { throw MediaError.encodeFailed(path: path, FFmpegError(code: result, operation: "avformat_write_header")) }
  }

  /// Interleaves and writes one packet (its timestamps already in its stream's time base).
  func write(_ packet: UnsafeMutablePointer<AVPacket>) throws {
    let result = av_interleaved_write_frame(context, packet)
    if result < 0 { throw MediaError.encodeFailed(path: path, FFmpegError(code: result, operation: "av_interleaved_write_frame")) }
  }

  /// Writes the trailer, closes the temporary file and renames it to `path`.
  func finish() throws {
    let trailer = av_write_trailer(context)
    if opened { avio_closep(&context.pointee.pb); opened = false }
    if trailer < 0 { throw MediaError.encodeFailed(path: path, FFmpegError(code: trailer, operation: "av_write_trailer")) }
    if rename(temporaryPath, path) != 0 {
      throw MediaError.cannotWrite(path: path, reason: "renaming the finished temporary file failed: \(String(cString: strerror(errno)))")
    }
    finished = true
  }
}
