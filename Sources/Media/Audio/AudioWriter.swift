import CFFmpeg
import Foundation

/// Writes an `AudioBuffer` to an audio file, the codec chosen by the extension: .wav (16-bit
/// PCM), .flac, .m4a/.aac/.mp4 (AAC), .mp3 (libmp3lame, where the build has it), .mka (AAC).
/// Like `VideoWriter`, the file appears under its name only once complete.
public enum AudioWriter {
  /// The encoder for a file name's extension.
  public static func codec(forPath path: String) -> String? {
    switch URL(fileURLWithPath: path).pathExtension.lowercased() {
    case "wav": "pcm_s16le"
    case "flac": "flac"
    case "m4a", "aac", "mp4", "mka", "mov": "aac"
    case "mp3": "libmp3lame"
    default: nil
    }
  }

  public static func write(_ buffer: AudioBuffer, to path: String) throws {
    guard let codecName = codec(forPath: path) else {
      throw MediaError.cannotWrite(path: path, reason: "no audio codec for this extension (use .wav, .flac, .m4a, .mp3)")
    }
    guard buffer.frameCount > 0 else { throw MediaError.invalidArgument(path: path, reason: "the audio buffer is empty") }
    let output = try OutputFile(path: path)
    guard let codec = avcodec_find_encoder_by_name(codecName) else { throw MediaError.encoderNotFound(path: path, codec: codecName) }
    let rate = AudioEncoder.rate(for: codec, input: buffer.sampleRate)
    var samples = buffer.samples
    if rate != buffer.sampleRate {
      var layout = AVChannelLayout()
      av_channel_layout_default(&layout, Int32(buffer.channels))
      let resampler = try Resampler(inputLayout: layout, inputFormat: AV_SAMPLE_FMT_FLT, inputRate: buffer.sampleRate,
                                    outputChannels: buffer.channels, outputRate: rate, path: path)
      samples = []
      try buffer.samples.withUnsafeBufferPointer {
        try resampler.convert(interleaved: $0, channels: buffer.channels, appendingTo: &samples, path: path)
      }
      try resampler.convert(nil, count: 0, appendingTo: &samples, path: path)
    }
    let bitRate: Int? = codecName == "aac" || codecName == "libmp3lame" ? 64_000 * min(buffer.channels, 2) + 32_000 : nil
    let encoder = try AudioEncoder(codecName: codecName, sampleRate: rate, channels: buffer.channels, bitRate: bitRate, output: output)
    try output.writeHeader(options: [:])
    try samples.withUnsafeBufferPointer { try encoder.encode($0) { try output.write($0) } }
    try encoder.finish { try output.write($0) }
    try output.finish()
  }
}
