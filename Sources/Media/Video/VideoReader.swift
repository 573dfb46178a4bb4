import CFFmpeg
import CFFmpegShim
import Foundation
import Tensors

/// Streams the frames of a video file in presentation order, one at a time, as 8-bit RGB.
///
/// Memory does not grow with the clip: the reader holds the decoder's few reference frames and
/// one timestamp per frame. Opening reads the stream's packets once (without decoding) to count
/// the frames exactly and to learn every timestamp, so variable-frame-rate clips keep their timing
/// and `seek(toFrame:)` lands on an exact frame.
///
///     let reader = try VideoReader(path: "clip.mp4")
///     while let frame = try reader.nextFrame() { use(frame.image) }
public final class VideoReader {
  public let info: VideoInfo
  /// The presentation timestamp of every frame in order, in `info.timeBase` units.
  public let timestamps: [Int64]
  /// When true (the default), frames are turned upright by the stream's rotation metadata.
  public let autorotate: Bool
  /// How chroma is brought to full resolution for RGB.
  public let chroma: ChromaUpsampling

  /// YUV 4:2:0 keeps one colour sample per 2×2 pixels; RGB needs one per pixel.
  public enum ChromaUpsampling: Sendable {
    /// Interpolated at the stream's chroma siting (the default; smooth colour edges).
    case bilinear
    /// Each sample repeated, through libswscale's SIMD path: several times faster, blockier
    /// colour edges (about 1–3 dB lower PSNR on sharp colour detail). For analysis, not output.
    case nearest
  }

  private let input: InputFile
  private let streamIndex: Int
  private let decoder: CodecContext
  private let index: PacketIndex
  private let packet = PacketBox()
  private let frame = FrameBox()
  private let converter = PixelConverter()
  private var draining = false
  private var finished = false
  private var pendingPacket = false
  /// After a seek: frames before this timestamp are decoded and dropped.
  private var skipBefore: Int64?
  private var seekTarget: Int?
  private var seekAttempt = 0
  /// The index the next frame gets when its timestamp is not in the index.
  private var nextIndex = 0

  /// The index of the frame `nextFrame()` returns next.
  public var nextFrameIndex: Int { nextIndex }

  /// Opens `path`. `threads` bounds the decoder's threads (default: `Runtime.threads`).
  public init(path: String, autorotate: Bool = true, chroma: ChromaUpsampling = .bilinear, threads: Int? = nil) throws {
    let input = try InputFile(path: path)
    guard let streamIndex = input.bestStream(AVMEDIA_TYPE_VIDEO) else { throw MediaError.noVideoStream(path: path) }
    let stream = input.stream(streamIndex)
    let parameters = stream.pointee.codecpar!.pointee
    let format = AVPixelFormat(rawValue: parameters.format)
    if parameters.format >= 0, !PixelConverter.canRead(format) {
      throw MediaError.unsupportedPixelFormat(path: path, format: PixelConverter.name(format), supported: [])
    }
    let index = try PacketIndex(path: path, streamIndex: streamIndex)
    guard !index.timestamps.isEmpty else { throw MediaError.emptyVideo(path: path) }
    self.input = input
    self.streamIndex = streamIndex
    self.index = index
    self.timestamps = index.timestamps
    self.autorotate = autorotate
    self.chroma = chroma
    input.discardAllStreams(except: streamIndex)
    decoder = try CodecContext(decoderFor: stream, path: path, threads: threads)

    let timeBase = Rational(stream.pointee.time_base)
    let ts = index.timestamps
    var deltas = Set<Int64>()
    for i in ts.indices.dropFirst() { deltas.insert(ts[i] - ts[i - 1]) }
    let typical = ts.count > 1 ? (ts.last! - ts.first!) / Int64(ts.count - 1) : 0
    let lastDuration = index.lastDuration > 0 ? index.lastDuration : typical
    let durationTicks = ts.last! - ts.first! + lastDuration
    // Timestamps rounded to a coarse time base jitter by one tick on a constant rate.
    let variable = (deltas.max() ?? 0) - (deltas.min() ?? 0) > 1
    var rate = Rational(stream.pointee.avg_frame_rate)
    if !rate.isValid { rate = Rational(stream.pointee.r_frame_rate) }
    if !rate.isValid || variable, durationTicks > 0 {
      rate = Rational(approximating: Double(ts.count) / timeBase.seconds(durationTicks), maxDenominator: 1001)
    }
    let bitRate = Int(parameters.bit_rate)
    info = VideoInfo(
      path: path, container: input.formatName,
      codec: String(cString: avcodec_get_name(parameters.codec_id)),
      pixelFormat: PixelConverter.name(format),
      width: Int(parameters.width), height: Int(parameters.height),
      rotation: Self.rotation(of: stream), frameRate: rate, timeBase: timeBase,
      frameCount: ts.count, startTime: timeBase.seconds(ts.first!),
      duration: timeBase.seconds(durationTicks), isVariableFrameRate: variable,
      bitRate: bitRate > 0 ? bitRate : nil)
  }

  /// Clockwise degrees from the stream's display matrix, rounded to a multiple of 90.
  static func rotation(of stream: UnsafeMutablePointer<AVStream>) -> Int {
    var size = 0
    guard let data = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, &size), size >= 36 else { return 0 }
    let counterClockwise = data.withMemoryRebound(to: Int32.self, capacity: 9) { redub_display_rotation_get($0) }
    guard counterClockwise.isFinite else { return 0 }
    let clockwise = Int((-counterClockwise / 90).rounded()) * 90
    return ((clockwise % 360) + 360) % 360
  }

  /// The next frame in presentation order, or nil after the last one.
  public func nextFrame() throws -> VideoFrame? {
    while let decoded = try decodeNext() {
      let pts = decoded.pointee.best_effort_timestamp == redub_av_nopts_value()
        ? (nextIndex < timestamps.count ? timestamps[nextIndex] : timestamps.last! + 1)
        : decoded.pointee.best_effort_timestamp
      if let target = skipBefore {
        if pts < target { av_frame_unref(decoded); continue }
        skipBefore = nil
        if let wanted = seekTarget, pts > timestamps[wanted] {
          // Landed past the frame (a keyframe whose leading frames belong to the previous
          // group): start again from an earlier keyframe.
          av_frame_unref(decoded)
          seekAttempt += 1
          try restart(at: wanted, skippingKeyframes: seekAttempt)
          continue
        }
        seekTarget = nil
        seekAttempt = 0
      }
      let frameIndex = index.frameIndex(ofTimestamp: pts) ?? nextIndex
      nextIndex = frameIndex + 1
      let image = try convert(decoded)
      av_frame_unref(decoded)
      return VideoFrame(index: frameIndex, pts: pts, time: info.timeBase.seconds(pts),
                        image: autorotate ? image.rotated(clockwise: info.rotation) : image)
    }
    return nil
  }

  /// Positions the reader so that `nextFrame()` returns frame `index`.
  public func seek(toFrame frameIndex: Int) throws {
    guard frameIndex >= 0, frameIndex < timestamps.count else {
      throw MediaError.frameIndexOutOfRange(path: info.path, index: frameIndex, frameCount: timestamps.count)
    }
    seekAttempt = 0
    try restart(at: frameIndex, skippingKeyframes: 0)
  }

  /// Seeks to the last keyframe at or before frame `frameIndex` (passing over the last `skip`
  /// of them after an overshoot), then decodes forward dropping frames until it.
  private func restart(at frameIndex: Int, skippingKeyframes skip: Int) throws {
    let target = timestamps[frameIndex]
    let candidates = Array(index.keyframes.filter { $0.pts <= target }.dropLast(skip))
    // A seek to the very start, or no usable keyframe: read from the beginning.
    let seekTimestamp = candidates.last.map { min($0.dts, $0.pts) } ?? Int64.min
    let result = seekTimestamp == Int64.min
      ? avformat_seek_file(input.context, Int32(streamIndex), Int64.min, Int64.min, Int64.min, 0)
      : av_seek_frame(input.context, Int32(streamIndex), seekTimestamp, AVSEEK_FLAG_BACKWARD)
    if result < 0 {
      // Some demuxers cannot seek by timestamp; byte 0 always works.
      let rewound = av_seek_frame(input.context, Int32(streamIndex), 0, AVSEEK_FLAG_BYTE)
      if rewound < 0 { throw MediaError.readFailed(path: info.path, FFmpegError(code: result, operation: "av_seek_frame")) }
    }
    avcodec_flush_buffers(decoder.context)
    draining = false
    finished = false
    pendingPacket = false
    av_packet_unref(packet.packet)
    skipBefore = target
    // With no keyframe left before the limit we decode from the start, which cannot overshoot.
    seekTarget = candidates.isEmpty ? nil : frameIndex
    nextIndex = frameIndex
  }

  /// The next decoded frame (owned by `frame`; the caller unrefs it), or nil at the end.
  private func decodeNext() throws -> UnsafeMutablePointer<AVFrame>? {
    if finished { return nil }
    while true {
      let received = avcodec_receive_frame(decoder.context, frame.frame)
      if received == 0 { return frame.frame }
      if received == FFmpegError.endOfFileCode { finished = true; return nil }
      guard received == FFmpegError.tryAgainCode else {
        throw MediaError.decodeFailed(path: info.path, FFmpegError(code: received, operation: "avcodec_receive_frame"))
      }
      if draining { finished = true; return nil }
      if !pendingPacket {
        let read = av_read_frame(input.context, packet.packet)
        if read == FFmpegError.endOfFileCode {
          draining = true
          let sent = avcodec_send_packet(decoder.context, nil)
          if sent < 0, sent != FFmpegError.endOfFileCode {
            throw MediaError.decodeFailed(path: info.path, FFmpegError(code: sent, operation: "avcodec_send_packet"))
          }
          continue
        }
        if read < 0 { throw MediaError.readFailed(path: info.path, FFmpegError(code: read, operation: "av_read_frame")) }
        guard Int(packet.packet.pointee.stream_index) == streamIndex else {
          av_packet_unref(packet.packet)
          continue
        }
        pendingPacket = true
      }
      let sent = avcodec_send_packet(decoder.context, packet.packet)
      if sent == FFmpegError.tryAgainCode { continue }  // read output first; the packet stays pending
      pendingPacket = false
      av_packet_unref(packet.packet)
      if sent < 0 {
        throw MediaError.decodeFailed(path: info.path, FFmpegError(code: sent, operation: "avcodec_send_packet"))
      }
    }
  }

  private func convert(_ decoded: UnsafeMutablePointer<AVFrame>) throws -> RGBImage {
    let width = Int(decoded.pointee.width), height = Int(decoded.pointee.height)
    let format = AVPixelFormat(rawValue: decoded.pointee.format)
    guard PixelConverter.canRead(format) else {
      throw MediaError.unsupportedPixelFormat(path: info.path, format: PixelConverter.name(format), supported: [])
    }
    var pixels = [UInt8](unsafeUninitializedCapacity: width * height * 3) { _, count in count = width * height * 3 }
    if chroma == .bilinear, YUV420Converter.handles(format) {
      YUV420Converter.convert(decoded, into: &pixels)
      return RGBImage(width: width, height: height, pixels: pixels)
    }
    let key = PixelConverter.Key(width: width, height: height, source: format, destination: AV_PIX_FMT_RGB24,
                                 colorspace: decoded.pointee.colorspace, range: decoded.pointee.color_range,
                                 fast: chroma == .nearest)
    guard converter.prepare(key) else {
      throw MediaError.unsupportedPixelFormat(path: info.path, format: PixelConverter.name(format), supported: [])
    }
    converter.rgb(from: decoded, into: &pixels)
    return RGBImage(width: width, height: height, pixels: pixels)
  }
}
