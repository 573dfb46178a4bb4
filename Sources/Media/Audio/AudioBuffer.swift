/// Decoded audio in memory: float32 samples, channels interleaved, at one sample rate.
public struct AudioBuffer: Sendable, Equatable {
  /// `frameCount · channels` samples, interleaved (L R L R … for stereo).
  public var samples: [Float]
  public var sampleRate: Int
  public var channels: Int

  public init(samples: [Float], sampleRate: Int, channels: Int = 1) {
    precondition(sampleRate > 0 && channels > 0, "AudioBuffer needs a positive rate and channel count")
    precondition(samples.count % channels == 0, "\(samples.count) samples do not split into \(channels) channels")
    self.samples = samples
    self.sampleRate = sampleRate
    self.channels = channels
  }

  /// Samples per channel.
  public var frameCount: Int { samples.count / channels }

  public var duration: Double { Double(frameCount) / Double(sampleRate) }

  /// The mean of the channels (what librosa's `mono=True` gives).
  public func mono() -> AudioBuffer {
    if channels == 1 { return self }
    return AudioBuffer(samples: Self.mixDown(samples, channels: channels), sampleRate: sampleRate, channels: 1)
  }

  static func mixDown(_ samples: [Float], channels: Int) -> [Float] {
    let frames = samples.count / channels
    let scale = 1 / Float(channels)
    return [Float](unsafeUninitializedCapacity: frames) { out, count in
      samples.withUnsafeBufferPointer { src in
        for i in 0..<frames {
          var sum: Float = 0
          for c in 0..<channels { sum += src[i * channels + c] }
          out[i] = sum * scale
        }
      }
      count = frames
    }
  }
}
