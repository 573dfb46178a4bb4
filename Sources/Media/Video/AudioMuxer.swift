import CFFmpeg
import CFFmpegShim

/// Writes an `AudioTrack` into an output file a little at a time, keeping pace with the video
/// so the container interleaves the two streams without buffering either.
protocol AudioMuxer: AnyObject {
  /// Writes audio up to `seconds` (never past `end` once it is known).
  func write(upTo seconds: Double, output: OutputFile) throws
  /// Writes the rest up to `end` seconds (the video's end) and drains the encoder.
  func finish(end: Double, output: OutputFile) throws
}

/// The audio streams a track needs, created before the container header is written.
func makeAudioMuxer(_ track: AudioTrack, output: OutputFile) throws -> AudioMuxer? {
  switch track {
  case .none:
    return nil
  case .samples(let buffer):
    if buffer.frameCount == 0 { throw MediaError.invalidArgument(path: output.path, reason: "the audio track has no samples") }
    return try EncodingAudioMuxer(buffer: buffer, output: output)
  case .file(let path):
    let input = try InputFile(path: path)
    guard let index = input.bestStream(AVMEDIA_TYPE_AUDIO) else { throw MediaError.noAudioStream(path: path) }
    if output.accepts(input.stream(index).pointee.codecpar.pointee.codec_id) {
      return try CopyingAudioMuxer(input: input, streamIndex: index, output: output)
    }
    return try EncodingAudioMuxer(reader: AudioReader(path: path, sampleRate: nil, channels: nil), output: output)
  case .fileReencoded(let path):
    return try EncodingAudioMuxer(reader: AudioReader(path: path, sampleRate: nil, channels: nil), output: output)
  }
}

/// Encodes PCM (from memory or decoded from a file) to AAC.
final class EncodingAudioMuxer: AudioMuxer {
  private let encoder: AudioEncoder
  private var reader: AudioReader?
  /// Samples waiting to be encoded, interleaved at the encoder's rate and channel count.
  private var queue: [Float] = []
  private var queueStart = 0
  private var exhausted = false
  /// Samples per channel handed to the encoder so far.
  private var framesFed: Int64 = 0

  init(buffer: AudioBuffer, output: OutputFile) throws {
    guard let aac = avcodec_find_encoder_by_name("aac") else { throw MediaError.encoderNotFound(path: output.path, codec: "aac") }
    let rate = AudioEncoder.rate(for: aac, input: buffer.sampleRate)
    let channels = min(buffer.channels, 2)
    encoder = try AudioEncoder(codecName: "aac", sampleRate: rate, channels: channels,
                               bitRate: channels == 1 ? 96_000 : 160_000, output: output)
    if rate == buffer.sampleRate, channels == buffer.channels {
      queue = buffer.samples
    } else {
      var layout = AVChannelLayout()
      av_channel_layout_default(&layout, Int32(buffer.channels))
      let resampler = try Resampler(inputLayout: layout, inputFormat: AV_SAMPLE_FMT_FLT, inputRate: buffer.sampleRate,
                                    outputChannels: channels, outputRate: rate, path: output.path)
      try buffer.samples.withUnsafeBufferPointer {
        try resampler.convert(interleaved: $0, channels: buffer.channels, appendingTo: &queue, path: output.path)
      }
      try resampler.convert(nil, count: 0, appendingTo: &queue, path: output.path)
    }
    exhausted = true
  }

  init(reader: AudioReader, output: OutputFile) throws {
    guard let aac = avcodec_find_encoder_by_name("aac") else { throw MediaError.encoderNotFound(path: output.path, codec: "aac") }
    let channels = min(reader.info.channels, 2)
    let rate = AudioEncoder.rate(for: aac, input: reader.info.sampleRate)
    // Re-open at the encoder's rate and channel count so the reader's resampler does all conversion.
    let reader = try AudioReader(path: reader.info.path, sampleRate: rate, channels: channels)
    encoder = try AudioEncoder(codecName: "aac", sampleRate: rate, channels: channels,
                               bitRate: channels == 1 ? 96_000 : 160_000, output: output)
    self.reader = reader
  }

  func write(upTo seconds: Double, output: OutputFile) throws {
    try encode(until: Int64(seconds * Double(encoder.sampleRate)), output: output)
  }

  func finish(end: Double, output: OutputFile) throws {
    try encode(until: Int64((end * Double(encoder.sampleRate)).rounded()), output: output)
    try encoder.finish { try output.write($0) }
  }

  /// Encodes until `frames` samples per channel went to the encoder (or the input ends).
  private func encode(until frames: Int64, output: OutputFile) throws {
    let channels = encoder.channels
    while framesFed < frames {
      if queueStart == queue.count {
        if exhausted { return }
        queue.removeAll(keepingCapacity: true)
        queueStart = 0
        guard let chunk = try reader?.read() else { exhausted = true; return }
        queue = chunk
        continue
      }
      let available = (queue.count - queueStart) / channels
      let take = Int(min(Int64(available), frames - framesFed))
      try queue.withUnsafeBufferPointer { all in
        let slice = UnsafeBufferPointer(rebasing: all[queueStart..<(queueStart + take * channels)])
        try encoder.encode(slice) { try output.write($0) }
      }
      queueStart += take * channels
      framesFed += Int64(take)
    }
  }
}

/// Copies the packets of an audio stream without decoding.
final class CopyingAudioMuxer: AudioMuxer {
  private let input: InputFile
  private let streamIndex: Int
  private let inputTimeBase: Rational
  private let stream: UnsafeMutablePointer<AVStream>
  private let packet = PacketBox()
  private var held = false
  private var exhausted = false

  init(input: InputFile, streamIndex: Int, output: OutputFile) throws {
    self.input = input
    self.streamIndex = streamIndex
    input.discardAllStreams(except: streamIndex)
    let source = input.stream(streamIndex)
    inputTimeBase = Rational(source.pointee.time_base)
    stream = output.addStream()
    let copied = avcodec_parameters_copy(stream.pointee.codecpar, source.pointee.codecpar)
    if copied < 0 { throw MediaError.encodeFailed(path: output.path, FFmpegError(code: copied, operation: "avcodec_parameters_copy")) }
    stream.pointee.codecpar.pointee.codec_tag = 0
    stream.pointee.time_base = source.pointee.time_base
  }

  func write(upTo seconds: Double, output: OutputFile) throws {
    try copy(until: seconds, end: nil, output: output)
  }

  func finish(end: Double, output: OutputFile) throws {
    try copy(until: end, end: end, output: output)
  }

  /// Copies packets that start before `until` seconds; with `end`, drops those starting at or after it.
  private func copy(until: Double, end: Double?, output: OutputFile) throws {
    let noPTS = redub_av_nopts_value()
    while !exhausted {
      if !held {
        let read = av_read_frame(input.context, packet.packet)
        if read == FFmpegError.endOfFileCode { exhausted = true; return }
        if read < 0 { throw MediaError.readFailed(path: input.path, FFmpegError(code: read, operation: "av_read_frame")) }
        if Int(packet.packet.pointee.stream_index) != streamIndex { av_packet_unref(packet.packet); continue }
        held = true
      }
      let p = packet.packet.pointee
      let start = inputTimeBase.seconds(p.pts != noPTS ? p.pts : p.dts)
      if start >= until {
        if end != nil { av_packet_unref(packet.packet); held = false; exhausted = true }
        return
      }
      av_packet_rescale_ts(packet.packet, inputTimeBase.av, stream.pointee.time_base)
      packet.packet.pointee.stream_index = stream.pointee.index
      packet.packet.pointee.pos = -1
      held = false
      try output.write(packet.packet)
      av_packet_unref(packet.packet)
    }
  }
}
