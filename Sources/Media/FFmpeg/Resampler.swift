import CFFmpeg

/// A libswresample context: any decoded sample format, layout and rate in; interleaved float32
/// at a chosen rate and channel count out. Freed in `deinit`.
final class Resampler {
  private var context: OpaquePointer?
  let outputRate: Int
  let outputChannels: Int

  /// `inputLayout` and `inputFormat` describe what goes in; `outputChannels` 1 or 2 or the input's
  /// count (other counts take FFmpeg's default layout and its downmix matrix).
  init(inputLayout: AVChannelLayout, inputFormat: AVSampleFormat, inputRate: Int,
       outputChannels: Int, outputRate: Int, path: String) throws {
    var input = AVChannelLayout()
    var layoutCopy = inputLayout
    if inputLayout.order == AV_CHANNEL_ORDER_UNSPEC || av_channel_layout_check(&layoutCopy) == 0 {
      av_channel_layout_default(&input, inputLayout.nb_channels)
    } else {
      _ = av_channel_layout_copy(&input, &layoutCopy)
    }
    defer { av_channel_layout_uninit(&input) }
    var output = AVChannelLayout()
    if Int(input.nb_channels) == outputChannels {
      _ = av_channel_layout_copy(&output, &input)
    } else {
      av_channel_layout_default(&output, Int32(outputChannels))
    }
    defer { av_channel_layout_uninit(&output) }
    self.outputRate = outputRate
    self.outputChannels = outputChannels
    var context: OpaquePointer? = nil
    var result = swr_alloc_set_opts2(&context, &output, AV_SAMPLE_FMT_FLT, Int32(outputRate),
                                     &input, inputFormat, Int32(inputRate), 0, nil)
    if result >= 0, let context {
      // A longer filter than the default (32 taps) keeps the passband flat up to the new Nyquist rate.
      av_opt_set_int(UnsafeMutableRawPointer(context), "filter_size", 64, 0)
      result = swr_init(context)
    }
    self.context = context
    if result < 0 {
      throw MediaError.decodeFailed(path: path, FFmpegError(code: result, operation: "swr_init (resampling to \(outputRate) Hz, \(outputChannels) channels)"))
    }
  }

  deinit { swr_free(&context) }

  /// Converts `count` samples per channel at `data` (plane pointers, or one pointer when
  /// interleaved) and appends the output to `out`; pass nil to drain the resampler's delay.
  func convert(_ data: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, count: Int, appendingTo out: inout [Float], path: String) throws {
    let capacity = Int(swr_get_out_samples(context, Int32(count))) + 32
    let start = out.count
    out.append(contentsOf: repeatElement(0, count: capacity * outputChannels))
    let produced = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
      var plane: UnsafeMutablePointer<UInt8>? = UnsafeMutableRawPointer(buffer.baseAddress! + start)
        .assumingMemoryBound(to: UInt8.self)
      return swr_convert(context, &plane, Int32(capacity), data, Int32(count))
    }
    if produced < 0 {
      out.removeLast(capacity * outputChannels)
      throw MediaError.decodeFailed(path: path, FFmpegError(code: produced, operation: "swr_convert"))
    }
    out.removeLast((capacity - Int(produced)) * outputChannels)
  }

  /// Converts interleaved float32 samples.
  func convert(interleaved samples: UnsafeBufferPointer<Float>, channels: Int, appendingTo out: inout [Float], path: String) throws {
    var pointer: UnsafePointer<UInt8>? = UnsafeRawPointer(samples.baseAddress).map { $0.assumingMemoryBound(to: UInt8.self) }
    try convert(&pointer, count: samples.count / channels, appendingTo: &out, path: path)
  }
}
