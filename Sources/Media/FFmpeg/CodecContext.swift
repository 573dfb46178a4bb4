import CFFmpeg
import Tensors

/// An AVCodecContext (a decoder or an encoder), freed in `deinit`.
final class CodecContext {
  let context: UnsafeMutablePointer<AVCodecContext>
  let codec: UnsafePointer<AVCodec>

  /// A decoder for `stream`, opened, with its parameters.
  init(decoderFor stream: UnsafeMutablePointer<AVStream>, path: String, threads: Int? = nil) throws {
    let parameters = stream.pointee.codecpar!
    guard let codec = avcodec_find_decoder(parameters.pointee.codec_id) else {
      throw MediaError.decoderNotFound(path: path, codec: String(cString: avcodec_get_name(parameters.pointee.codec_id)))
    }
    guard let context = avcodec_alloc_context3(codec) else { fatalError("avcodec_alloc_context3: out of memory") }
    self.context = context
    self.codec = codec
    try check(avcodec_parameters_to_context(context, parameters), path: path, operation: "avcodec_parameters_to_context")
    context.pointee.pkt_timebase = stream.pointee.time_base
    context.pointee.thread_count = Int32(threads ?? Runtime.threads)
    context.pointee.thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE
    try check(avcodec_open2(context, codec, nil), path: path, operation: "avcodec_open2")
  }

  /// An encoder context for `codec`, not yet opened (the caller sets its fields, then `open`).
  init(encoder codec: UnsafePointer<AVCodec>) {
    guard let context = avcodec_alloc_context3(codec) else { fatalError("avcodec_alloc_context3: out of memory") }
    self.context = context
    self.codec = codec
  }

  func open(options: [String: String], path: String) throws {
    var dictionary: OpaquePointer? = nil
    for (key, value) in options { av_dict_set(&dictionary, key, value, 0) }
    defer { av_dict_free(&dictionary) }
    let result = avcodec_open2(context, codec, &dictionary)
    if result < 0 {
      throw MediaError.encodeFailed(path: path, FFmpegError(code: result, operation: "opening encoder \(String(cString: codec.pointee.name))"))
    }
  }

  deinit {
    var context: UnsafeMutablePointer<AVCodecContext>? = context
    avcodec_free_context(&context)
  }

  private func check(_ result: Int32, path: String, operation: String) throws {
    if result < 0 { throw MediaError.decodeFailed(path: path, FFmpegError(code: result, operation: operation)) }
  }
}
