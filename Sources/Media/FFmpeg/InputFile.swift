import CFFmpeg
import CFFmpegShim
import Foundation

/// An opened container (an AVFormatContext for reading), closed in `deinit`.
final class InputFile {
  let path: String
  let context: UnsafeMutablePointer<AVFormatContext>

  /// Opens `path` and reads its stream information.
  init(path: String) throws {
    self.path = path
    FFmpegLibraries.configureLogging
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
      throw MediaError.fileNotFound(path: path)
    }
    var context: UnsafeMutablePointer<AVFormatContext>? = nil
    let opened = avformat_open_input(&context, path, nil, nil)
    guard opened >= 0, let context else {
      throw MediaError.cannotOpen(path: path, FFmpegError(code: opened, operation: "avformat_open_input"))
    }
    self.context = context
    let found = avformat_find_stream_info(context, nil)
    // Probing fails on a stream with no packet; the streams the header declares still count
    // (an empty clip is then reported as empty, not as unreadable).
    if found < 0, context.pointee.nb_streams == 0 {
      throw MediaError.cannotOpen(path: path, FFmpegError(code: found, operation: "avformat_find_stream_info"))
    }
  }

  deinit {
    var context: UnsafeMutablePointer<AVFormatContext>? = context
    avformat_close_input(&context)
  }

  var streamCount: Int { Int(context.pointee.nb_streams) }

  func stream(_ index: Int) -> UnsafeMutablePointer<AVStream> { context.pointee.streams[index]! }

  /// The container's format name ("mov,mp4,m4a,3gp,3g2,mj2").
  var formatName: String { context.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "unknown" }

  /// The container's duration in seconds, or nil when unknown.
  var duration: Double? {
    let d = context.pointee.duration
    return d == redub_av_nopts_value() || d <= 0 ? nil : Double(d) / Double(AV_TIME_BASE)
  }

  /// The index of the best stream of `type` (the default one where several exist), or nil.
  func bestStream(_ type: AVMediaType) -> Int? {
    let index = av_find_best_stream(context, type, -1, -1, nil, 0)
    if index >= 0 { return Int(index) }
    // av_find_best_stream passes over streams it could not probe (an empty track); take the
    // first of the type, so an empty clip is reported as empty rather than as missing a stream.
    return (0..<streamCount).first { i in
      let s = stream(i).pointee
      return s.codecpar.pointee.codec_type == type && s.disposition & AV_DISPOSITION_ATTACHED_PIC == 0
    }
  }

  /// Lets the demuxer skip every stream but `keep`.
  func discardAllStreams(except keep: Int) {
    for i in 0..<streamCount where i != keep { stream(i).pointee.discard = AVDISCARD_ALL }
  }
}
