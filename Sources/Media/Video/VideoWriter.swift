import CFFmpeg
import CFFmpegShim
import Foundation
import Tensors

/// Encodes RGB frames to a video file (H.264 in MP4 where the build has libx264), optionally with
/// an audio track, streaming: each frame is encoded and written as it is appended.
///
/// The file appears under its name only when `finish()` succeeds: until then it is written to a
/// hidden temporary file in the same directory, which is removed if the writer is dropped
/// unfinished or fails. Frames are converted to 4:2:0 YUV with BT.709 coefficients (tagged in the
/// stream, limited range).
///
///     let writer = try VideoWriter(path: "out.mp4", width: 1920, height: 1080, frameRate: Rational(25, 1),
///                                  audio: .file("dub.wav"))
///     for image in frames { try writer.append(image) }
///     try writer.finish()
public final class VideoWriter {
  public let path: String
  /// The size of the frames `append` takes.
  public let width: Int
  public let height: Int
  /// The encoded size: `width`/`height` rounded up to even for `.pad`.
  public let encodedWidth: Int
  public let encodedHeight: Int
  public let frameRate: Rational
  /// The unit of `append`'s timestamps.
  public let timeBase: Rational
  /// The encoder in use ("libx264", "mpeg4").
  public let codecName: String
  /// Frames appended so far.
  public private(set) var frameCount = 0

  /// For tests of readers: lets `finish()` write a file with a video stream and no frame.
  var allowsEmptyOutput = false

  private let output: OutputFile
  private let encoder: CodecContext
  private let stream: UnsafeMutablePointer<AVStream>
  private let frame = FrameBox()
  private let packet = PacketBox()
  private let converter = PixelConverter()
  private let pixelFormat: AVPixelFormat
  private var audio: AudioMuxer?
  private var lastPTS: Int64?
  private var closed = false

  /// Opens `path` for writing. `timeBase` defaults to one tick per frame (1/frameRate);
  /// `rotation` (clockwise degrees, a multiple of 90) is stored as display-matrix metadata.
  public init(path: String, width: Int, height: Int, frameRate: Rational, timeBase: Rational? = nil,
              settings: VideoEncoderSettings = VideoEncoderSettings(), audio track: AudioTrack = .none,
              rotation: Int = 0) throws {
    self.path = path
    guard width > 0, height > 0, width <= 16384, height <= 16384 else {
      throw MediaError.invalidDimensions(path: path, width: width, height: height, reason: "each side must be 1…16384 pixels")
    }
    guard frameRate.isValid else {
      throw MediaError.invalidArgument(path: path, reason: "frame rate \(frameRate) must be positive")
    }
    let timeBase = timeBase ?? frameRate.inverted
    guard timeBase.isValid else { throw MediaError.invalidArgument(path: path, reason: "time base \(timeBase) must be positive") }
    guard rotation % 90 == 0 else {
      throw MediaError.invalidArgument(path: path, reason: "rotation must be a multiple of 90 degrees, got \(rotation)")
    }
    let odd = width % 2 == 1 || height % 2 == 1
    if odd, settings.oddSize == .reject {
      throw MediaError.invalidDimensions(path: path, width: width, height: height,
                                         reason: "4:2:0 video needs even sides; resize, or pass oddSize: .pad to add a repeated last column/row")
    }
    self.width = width
    self.height = height
    encodedWidth = width + width % 2
    encodedHeight = height + height % 2
    self.frameRate = frameRate
    self.timeBase = timeBase

    output = try OutputFile(path: path)
    let name = settings.codec ?? (FFmpegLibraries.hasEncoder(named: "libx264") ? "libx264" : "mpeg4")
    guard let codec = avcodec_find_encoder_by_name(name), codec.pointee.type == AVMEDIA_TYPE_VIDEO else {
      throw MediaError.encoderNotFound(path: path, codec: name)
    }
    codecName = name
    encoder = CodecContext(encoder: codec)
    guard let format = PixelConverter.format(named: settings.pixelFormat) else {
      throw MediaError.unsupportedPixelFormat(path: path, format: settings.pixelFormat, supported: Self.pixelFormats(of: codec))
    }
    let supported = Self.pixelFormats(of: codec)
    if (!supported.isEmpty && !supported.contains(settings.pixelFormat)) || sws_isSupportedOutput(format) == 0 {
      throw MediaError.unsupportedPixelFormat(path: path, format: settings.pixelFormat, supported: supported)
    }
    pixelFormat = format

    let context = encoder.context
    context.pointee.width = Int32(encodedWidth)
    context.pointee.height = Int32(encodedHeight)
    context.pointee.pix_fmt = format
    context.pointee.time_base = timeBase.av
    context.pointee.framerate = frameRate.av
    context.pointee.sample_aspect_ratio = AVRational(num: 1, den: 1)
    context.pointee.colorspace = AVCOL_SPC_BT709
    context.pointee.color_primaries = AVCOL_PRI_BT709
    context.pointee.color_trc = AVCOL_TRC_BT709
    context.pointee.color_range = AVCOL_RANGE_MPEG
    // libswscale's RGB → 4:2:0 averages each 2×2 block: chroma sits at the block's centre.
    context.pointee.chroma_sample_location = AVCHROMA_LOC_CENTER
    context.pointee.thread_count = Int32(settings.threads ?? Runtime.threads)
    if let gop = settings.keyframeInterval { context.pointee.gop_size = Int32(max(1, gop)) }
    if output.wantsGlobalHeader { context.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
    var options: [String: String] = [:]
    if name == "libx264" || name == "libx265" {
      options["crf"] = String(settings.crf)
      options["preset"] = settings.preset
    } else {
      // Encoders without CRF: a fixed quantizer of comparable quality.
      context.pointee.flags |= AV_CODEC_FLAG_QSCALE
      context.pointee.global_quality = Int32(FF_QP2LAMBDA) * Int32(max(2, min(31, settings.crf / 4)))
    }
    try encoder.open(options: options, path: path)

    stream = output.addStream()
    stream.pointee.time_base = timeBase.av
    stream.pointee.avg_frame_rate = frameRate.av
    let copied = avcodec_parameters_from_context(stream.pointee.codecpar, context)
    if copied < 0 { throw MediaError.encodeFailed(path: path, FFmpegError(code: copied, operation: "avcodec_parameters_from_context")) }
    let turn = ((rotation % 360) + 360) % 360
    if turn != 0 {
      guard let data = av_stream_new_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, 36) else { fatalError("out of memory") }
      // av_display_rotation_set's angle reads back negated from av_display_rotation_get (the
      // counter-clockwise angle), so this stores "turn clockwise by `turn`" as phones do.
      data.withMemoryRebound(to: Int32.self, capacity: 9) { redub_display_rotation_set($0, Double(turn)) }
    }
    audio = try makeAudioMuxer(track, output: output)

    var muxerOptions: [String: String] = [:]
    let container = String(cString: output.format.pointee.name)
    if settings.fastStart, container == "mp4" || container == "mov" { muxerOptions["movflags"] = "+faststart" }
    try output.writeHeader(options: muxerOptions)

    frame.frame.pointee.format = format.rawValue
    frame.frame.pointee.width = Int32(encodedWidth)
    frame.frame.pointee.height = Int32(encodedHeight)
    let allocated = av_frame_get_buffer(frame.frame, 0)
    if allocated < 0 { throw MediaError.encodeFailed(path: path, FFmpegError(code: allocated, operation: "av_frame_get_buffer")) }
    let key = PixelConverter.Key(width: encodedWidth, height: encodedHeight, source: AV_PIX_FMT_RGB24,
                                 destination: format, colorspace: AVCOL_SPC_BT709, range: AVCOL_RANGE_MPEG)
    guard converter.prepare(key) else {
      throw MediaError.unsupportedPixelFormat(path: path, format: settings.pixelFormat, supported: supported)
    }
  }

  /// The pixel formats an encoder takes, by name (empty when it does not say).
  static func pixelFormats(of codec: UnsafePointer<AVCodec>) -> [String] {
    guard var list = codec.pointee.pix_fmts else { return [] }
    var names: [String] = []
    while list.pointee.rawValue != -1 { names.append(PixelConverter.name(list.pointee)); list += 1 }
    return names
  }

  /// Encodes one frame. `pts` (in `timeBase` units) must increase; nil continues at the frame rate.
  public func append(_ image: RGBImage, pts: Int64? = nil) throws {
    guard !closed else { throw MediaError.writerClosed(path: path) }
    guard image.width == width, image.height == height else {
      throw MediaError.frameSizeMismatch(path: path, expected: (width, height), got: (image.width, image.height))
    }
    let timestamp = pts ?? rescale(Int64(frameCount), from: frameRate.inverted, to: timeBase)
    if let lastPTS, timestamp <= lastPTS {
      throw MediaError.invalidArgument(path: path, reason: "frame \(frameCount) has timestamp \(timestamp), not after the previous \(lastPTS)")
    }
    do {
      let writable = av_frame_make_writable(frame.frame)
      if writable < 0 { throw MediaError.encodeFailed(path: path, FFmpegError(code: writable, operation: "av_frame_make_writable")) }
      if encodedWidth == width, encodedHeight == height {
        image.pixels.withUnsafeBufferPointer { converter.convert(rgb: $0, width: width, height: height, into: frame.frame) }
      } else {
        padded(image).withUnsafeBufferPointer {
          converter.convert(rgb: $0, width: encodedWidth, height: encodedHeight, into: frame.frame)
        }
      }
      frame.frame.pointee.pts = timestamp
      try encode(frame.frame)
      lastPTS = timestamp
      frameCount += 1
    } catch {
      closed = true
      throw error
    }
  }

  /// Encodes a [1, 3, H, W] or [3, H, W] tensor with values in 0...1.
  public func append(_ tensor: Tensor, pts: Int64? = nil) throws {
    try append(RGBImage(tensor: tensor), pts: pts)
  }

  /// Drains the encoder, writes the rest of the audio (cut at the video's end), writes the
  /// container's index and moves the file to `path`.
  public func finish() throws {
    guard !closed else { throw MediaError.writerClosed(path: path) }
    closed = true
    if frameCount == 0, !allowsEmptyOutput {
      throw MediaError.invalidArgument(path: path, reason: "no frame was appended; nothing to write")
    }
    try encode(nil)
    let end = lastPTS.map { timeBase.seconds($0) + 1 / frameRate.doubleValue } ?? 0
    try audio?.finish(end: end, output: output)
    try output.finish()
  }

  private func encode(_ f: UnsafeMutablePointer<AVFrame>?) throws {
    let sent = avcodec_send_frame(encoder.context, f)
    if sent < 0 { throw MediaError.encodeFailed(path: path, FFmpegError(code: sent, operation: "avcodec_send_frame")) }
    while true {
      let received = avcodec_receive_packet(encoder.context, packet.packet)
      if received == FFmpegError.tryAgainCode || received == FFmpegError.endOfFileCode { return }
      if received < 0 { throw MediaError.encodeFailed(path: path, FFmpegError(code: received, operation: "avcodec_receive_packet")) }
      let time = timeBase.seconds(packet.packet.pointee.pts)
      av_packet_rescale_ts(packet.packet, timeBase.av, stream.pointee.time_base)
      packet.packet.pointee.stream_index = stream.pointee.index
      try output.write(packet.packet)
      av_packet_unref(packet.packet)
      // Keep the audio level with the video so the muxer interleaves without buffering either
      // (never ahead: the track is cut at the video's end, which is not known yet).
      try audio?.write(upTo: time, output: output)
    }
  }

  /// The frame with its last column and/or row repeated to even sides.
  private func padded(_ image: RGBImage) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: encodedWidth * encodedHeight * 3)
    image.pixels.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for y in 0..<encodedHeight {
          let sy = min(y, height - 1)
          let from = src.baseAddress! + sy * width * 3, to = dst.baseAddress! + y * encodedWidth * 3
          to.update(from: from, count: width * 3)
          if encodedWidth > width { (to + width * 3).update(from: from + (width - 1) * 3, count: 3) }
        }
      }
    }
    return out
  }
}
