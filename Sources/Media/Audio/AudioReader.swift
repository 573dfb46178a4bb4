import CFFmpeg
import CFFmpegShim
import Tensors

/// Decodes the audio of any file FFmpeg reads (wav, mp3, aac, flac, the sound of a video) to
/// float32 at a requested rate through libswresample, in chunks or whole.
///
///     let speech = try AudioReader.load(path: "dub.wav", sampleRate: 16_000)   // mono, 16 kHz
public final class AudioReader {
  public let info: AudioInfo

  private let input: InputFile
  private let streamIndex: Int
  private let decoder: CodecContext
  private let packet = PacketBox()
  private let frame = FrameBox()
  private var resampler: Resampler?
  /// Channels the resampler delivers; averaged to one when `info.outputChannels` is 1.
  private var resampledChannels = 0
  private var draining = false
  private var finished = false

  /// Opens the best audio stream of `path`. `sampleRate` nil keeps the stream's rate; `channels`
  /// 1 (the default) averages all channels, nil keeps them, 2 mixes down with FFmpeg's matrix.
  public init(path: String, sampleRate: Int? = nil, channels: Int? = 1) throws {
    if let sampleRate, sampleRate <= 0 {
      throw MediaError.invalidArgument(path: path, reason: "sample rate must be positive, got \(sampleRate)")
    }
    if let channels, channels <= 0 {
      throw MediaError.invalidArgument(path: path, reason: "channel count must be positive, got \(channels)")
    }
    let input = try InputFile(path: path)
    guard let streamIndex = input.bestStream(AVMEDIA_TYPE_AUDIO) else { throw MediaError.noAudioStream(path: path) }
    input.discardAllStreams(except: streamIndex)
    let stream = input.stream(streamIndex)
    decoder = try CodecContext(decoderFor: stream, path: path, threads: 1)
    self.input = input
    self.streamIndex = streamIndex
    let parameters = stream.pointee.codecpar!.pointee
    let rate = Int(parameters.sample_rate), sourceChannels = Int(parameters.ch_layout.nb_channels)
    guard rate > 0, sourceChannels > 0 else { throw MediaError.emptyAudio(path: path) }
    var duration: Double? = nil
    if stream.pointee.duration != redub_av_nopts_value(), stream.pointee.duration > 0 {
      duration = Rational(stream.pointee.time_base).seconds(stream.pointee.duration)
    } else {
      duration = input.duration
    }
    info = AudioInfo(path: path, codec: String(cString: avcodec_get_name(parameters.codec_id)),
                     sampleRate: rate, channels: sourceChannels, duration: duration,
                     bitRate: parameters.bit_rate > 0 ? Int(parameters.bit_rate) : nil,
                     outputSampleRate: sampleRate ?? rate, outputChannels: channels ?? sourceChannels)
  }

  /// The whole stream of `path` as mono (or `channels`) float32 at `sampleRate`.
  public static func load(path: String, sampleRate: Int? = 16_000, channels: Int? = 1) throws -> AudioBuffer {
    try AudioReader(path: path, sampleRate: sampleRate, channels: channels).readAll()
  }

  /// Everything left in the stream. Throws `MediaError.emptyAudio` when the stream has no sample.
  public func readAll() throws -> AudioBuffer {
    var samples: [Float] = []
    if let duration = info.duration {
      samples.reserveCapacity(Int(duration * Double(info.outputSampleRate) * 1.01) * info.outputChannels + 4096)
    }
    while let chunk = try read() { samples += chunk }
    if samples.isEmpty { throw MediaError.emptyAudio(path: info.path) }
    return AudioBuffer(samples: samples, sampleRate: info.outputSampleRate, channels: info.outputChannels)
  }

  /// The next decoded chunk (interleaved, at the output rate and channel count), or nil at the end.
  /// Chunks follow the codec's frames (about 1024–4608 samples).
  public func read() throws -> [Float]? {
    while !finished {
      var out: [Float] = []
      if let decoded = try decodeNext() {
        defer { av_frame_unref(decoded) }
        let resampler = try resamplerFor(decoded)
        let data = UnsafeMutableRawPointer(decoded.pointee.extended_data)?.assumingMemoryBound(to: UnsafePointer<UInt8>?.self)
        try resampler.convert(data, count: Int(decoded.pointee.nb_samples), appendingTo: &out, path: info.path)
      } else {
        finished = true
        try resampler?.convert(nil, count: 0, appendingTo: &out, path: info.path)
      }
      if out.isEmpty { continue }
      if info.outputChannels == 1, resampledChannels > 1 { out = AudioBuffer.mixDown(out, channels: resampledChannels) }
      return out
    }
    return nil
  }

  private func resamplerFor(_ decoded: UnsafeMutablePointer<AVFrame>) throws -> Resampler {
    if let resampler { return resampler }
    let layout = decoded.pointee.ch_layout
    let channels = info.outputChannels == 1 ? Int(layout.nb_channels) : info.outputChannels
    let resampler = try Resampler(inputLayout: layout, inputFormat: AVSampleFormat(rawValue: decoded.pointee.format),
                                  inputRate: Int(decoded.pointee.sample_rate), outputChannels: channels,
                                  outputRate: info.outputSampleRate, path: info.path)
    self.resampler = resampler
    resampledChannels = channels
    return resampler
  }

  private func decodeNext() throws -> UnsafeMutablePointer<AVFrame>? {
    while true {
      let received = avcodec_receive_frame(decoder.context, frame.frame)
      if received == 0 { return frame.frame }
      if received == FFmpegError.endOfFileCode { return nil }
      guard received == FFmpegError.tryAgainCode else {
        throw MediaError.decodeFailed(path: info.path, FFmpegError(code: received, operation: "avcodec_receive_frame"))
      }
      if draining { return nil }
      let read = av_read_frame(input.context, packet.packet)
      if read == FFmpegError.endOfFileCode {
        draining = true
        _ = avcodec_send_packet(decoder.context, nil)
        continue
      }
      if read < 0 { throw MediaError.readFailed(path: info.path, FFmpegError(code: read, operation: "av_read_frame")) }
      defer { av_packet_unref(packet.packet) }
      guard Int(packet.packet.pointee.stream_index) == streamIndex else { continue }
      let sent = avcodec_send_packet(decoder.context, packet.packet)
      // Audio decoders take every packet once their output is read; a corrupt packet is skipped
      // (as players do) unless nothing decodes at all, which `readAll` reports as empty audio.
      if sent < 0, sent != FFmpegError.tryAgainCode, sent != redub_averror_invaliddata() {
        throw MediaError.decodeFailed(path: info.path, FFmpegError(code: sent, operation: "avcodec_send_packet"))
      }
    }
  }
}
