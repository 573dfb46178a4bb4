import CFFmpeg

/// An audio encoder fed interleaved float32 at its own rate and channel count; cuts the input
/// into the codec's frame size, converts to the codec's sample format, and hands each packet
/// (timestamps in the stream's time base) to `emit`.
final class AudioEncoder {
  let codec: CodecContext
  let stream: UnsafeMutablePointer<AVStream>
  let sampleRate: Int
  let channels: Int
  private let path: String
  private let frameSize: Int
  private let frame = FrameBox()
  private let packet = PacketBox()
  private var pending: [Float] = []
  private var samplesSent: Int64 = 0

  /// Samples per channel encoded so far.
  var encodedFrames: Int64 { samplesSent }

  /// The rate the encoder will run at for input at `rate`: `rate` when the codec takes it, else
  /// the nearest rate it lists.
  static func rate(for codec: UnsafePointer<AVCodec>, input rate: Int) -> Int {
    guard var list = codec.pointee.supported_samplerates else { return rate }
    var best = rate, bestDistance = Int.max
    while list.pointee != 0 {
      let candidate = Int(list.pointee)
      if candidate == rate { return rate }
      if abs(candidate - rate) < bestDistance { best = candidate; bestDistance = abs(candidate - rate) }
      list += 1
    }
    return best
  }

  /// Adds a stream for `codecName` to `output` and opens the encoder.
  init(codecName: String, sampleRate: Int, channels: Int, bitRate: Int?, output: OutputFile) throws {
    path = output.path
    guard let found = avcodec_find_encoder_by_name(codecName) else {
      throw MediaError.encoderNotFound(path: output.path, codec: codecName)
    }
    codec = CodecContext(encoder: found)
    let context = codec.context
    self.sampleRate = sampleRate
    self.channels = channels
    context.pointee.sample_rate = Int32(sampleRate)
    av_channel_layout_default(&context.pointee.ch_layout, Int32(channels))
    context.pointee.sample_fmt = Self.sampleFormat(for: found)
    context.pointee.time_base = AVRational(num: 1, den: Int32(sampleRate))
    if let bitRate { context.pointee.bit_rate = Int64(bitRate) }
    if output.wantsGlobalHeader { context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
    try codec.open(options: [:], path: output.path)
    let variable = found.pointee.capabilities & Int32(AV_CODEC_CAP_VARIABLE_FRAME_SIZE) != 0
    frameSize = context.pointee.frame_size > 0 && !variable ? Int(context.pointee.frame_size) : 1024
    stream = output.addStream()
    stream.pointee.time_base = context.pointee.time_base
    let copied = avcodec_parameters_from_context(stream.pointee.codecpar, context)
    if copied < 0 { throw MediaError.encodeFailed(path: output.path, FFmpegError(code: copied, operation: "avcodec_parameters_from_context")) }
  }

  /// The first of float-planar, float, s16, s16-planar, s32, s32-planar the codec takes.
  private static func sampleFormat(for codec: UnsafePointer<AVCodec>) -> AVSampleFormat {
    let preferred = [AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_S16, AV_SAMPLE_FMT_S16P, AV_SAMPLE_FMT_S32, AV_SAMPLE_FMT_S32P]
    guard var list = codec.pointee.sample_fmts else { return AV_SAMPLE_FMT_FLTP }
    var supported: [AVSampleFormat] = []
    while list.pointee.rawValue != -1 { supported.append(list.pointee); list += 1 }
    return preferred.first(where: supported.contains) ?? supported.first ?? AV_SAMPLE_FMT_FLTP
  }

  /// Queues interleaved samples; encodes every full frame.
  func encode(_ samples: UnsafeBufferPointer<Float>, emit: (UnsafeMutablePointer<AVPacket>) throws -> Void) throws {
    pending.append(contentsOf: samples)
    let full = pending.count / (frameSize * channels)
    if full == 0 { return }
    for f in 0..<full { try encodeFrame(offset: f * frameSize * channels, count: frameSize, emit: emit) }
    pending.removeFirst(full * frameSize * channels)
  }

  /// Encodes what is queued (a short last frame) and drains the encoder.
  func finish(emit: (UnsafeMutablePointer<AVPacket>) throws -> Void) throws {
    if !pending.isEmpty {
      try encodeFrame(offset: 0, count: pending.count / channels, emit: emit)
      pending.removeAll()
    }
    try send(nil, emit: emit)
  }

  private func encodeFrame(offset: Int, count: Int, emit: (UnsafeMutablePointer<AVPacket>) throws -> Void) throws {
    let f = frame.frame
    av_frame_unref(f)
    f.pointee.nb_samples = Int32(count)
    f.pointee.format = codec.context.pointee.sample_fmt.rawValue
    f.pointee.sample_rate = Int32(sampleRate)
    _ = av_channel_layout_copy(&f.pointee.ch_layout, &codec.context.pointee.ch_layout)
    let allocated = av_frame_get_buffer(f, 0)
    if allocated < 0 { throw MediaError.encodeFailed(path: path, FFmpegError(code: allocated, operation: "av_frame_get_buffer")) }
    let format = codec.context.pointee.sample_fmt
    let planar = av_sample_fmt_is_planar(format) != 0
    pending.withUnsafeBufferPointer { src in
      let base = src.baseAddress! + offset
      for c in 0..<channels {
        let plane = planar ? f.pointee.extended_data[c]! : f.pointee.extended_data[0]!
        let step = planar ? 1 : channels, start = planar ? 0 : c
        for i in 0..<count {
          let v = base[i * channels + c]
          let j = start + i * step
          switch format {
          case AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_FLT:
            UnsafeMutableRawPointer(plane).assumingMemoryBound(to: Float.self)[j] = v
          case AV_SAMPLE_FMT_S16, AV_SAMPLE_FMT_S16P:
            UnsafeMutableRawPointer(plane).assumingMemoryBound(to: Int16.self)[j] = Int16((max(-1, min(1, v)) * 32767).rounded())
          default:
            UnsafeMutableRawPointer(plane).assumingMemoryBound(to: Int32.self)[j] = Int32((Double(max(-1, min(1, v))) * 2147483647).rounded())
          }
        }
      }
    }
    f.pointee.pts = samplesSent
    samplesSent += Int64(count)
    try send(f, emit: emit)
  }

  private func send(_ f: UnsafeMutablePointer<AVFrame>?, emit: (UnsafeMutablePointer<AVPacket>) throws -> Void) throws {
    let sent = avcodec_send_frame(codec.context, f)
    if sent < 0 { throw MediaError.encodeFailed(path: path, FFmpegError(code: sent, operation: "avcodec_send_frame (audio)")) }
    while true {
      let received = avcodec_receive_packet(codec.context, packet.packet)
      if received == FFmpegError.tryAgainCode || received == FFmpegError.endOfFileCode { return }
      if received < 0 { throw MediaError.encodeFailed(path: path, FFmpegError(code: received, operation: "avcodec_receive_packet (audio)")) }
      av_packet_rescale_ts(packet.packet, codec.context.pointee.time_base, stream.pointee.time_base)
      packet.packet.pointee.stream_index = stream.pointee.index
      try emit(packet.packet)
      av_packet_unref(packet.packet)
    }
  }
}
