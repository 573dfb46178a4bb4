import Foundation
import Tensors

/// A log-mel spectrogram equal to `log(max(librosa.feature.melspectrogram(y, sr, n_fft, hop_length,
/// win_length, n_mels, fmin, fmax), floor))` with librosa 0.10+'s defaults: a periodic Hann window,
/// frames centred on multiples of the hop (the signal zero padded by n_fft/2 at both ends), the
/// power spectrum |X|², and Slaney-style mel filters with Slaney area normalization. Defaults:
/// 80 bands at 16 kHz, hop 200, window 800. Output [frames, melCount], frames = 1 + samples / hop.
public struct LogMelSpectrogram: Sendable {
  public struct Configuration: Sendable, Equatable {
    public var sampleRate: Int = 16_000
    public var fftSize: Int = 800
    public var hopLength: Int = 200
    public var windowLength: Int = 800
    public var melCount: Int = 80
    public var minFrequency: Double = 0
    /// nil: sampleRate / 2.
    public var maxFrequency: Double? = nil
    /// Values below this are raised to it before the natural log.
    public var floor: Double = 1e-10

    public init() {}
  }

  public let configuration: Configuration
  let filters: [[Double]]
  private let window: [Double]
  private let fft: FFT

  public init(_ configuration: Configuration = Configuration()) {
    precondition(configuration.windowLength <= configuration.fftSize, "window longer than the FFT")
    precondition(configuration.hopLength > 0 && configuration.melCount > 0, "hop and mel count must be positive")
    self.configuration = configuration
    fft = FFT(size: configuration.fftSize)
    // Periodic Hann of windowLength, centred in fftSize (librosa pads the window to n_fft).
    let w = configuration.windowLength, n = configuration.fftSize
    var window = [Double](repeating: 0, count: n)
    let offset = (n - w) / 2
    for i in 0..<w { window[offset + i] = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(w)) }
    self.window = window
    filters = Self.slaneyFilters(configuration)
  }

  /// Slaney's mel scale: linear below 1 kHz, logarithmic above.
  static func hzToMel(_ hz: Double) -> Double {
    let fSp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fSp, logStep = log(6.4) / 27
    return hz >= minLogHz ? minLogMel + log(hz / minLogHz) / logStep : hz / fSp
  }

  static func melToHz(_ mel: Double) -> Double {
    let fSp = 200.0 / 3, minLogHz = 1000.0, minLogMel = minLogHz / fSp, logStep = log(6.4) / 27
    return mel >= minLogMel ? minLogHz * exp(logStep * (mel - minLogMel)) : fSp * mel
  }

  static func slaneyFilters(_ c: Configuration) -> [[Double]] {
    let bins = c.fftSize / 2 + 1
    let maxF = c.maxFrequency ?? Double(c.sampleRate) / 2
    let lowMel = hzToMel(c.minFrequency), highMel = hzToMel(maxF)
    let points: [Double] = (0..<(c.melCount + 2)).map { i in
      melToHz(i == c.melCount + 1 ? highMel : lowMel + Double(i) * (highMel - lowMel) / Double(c.melCount + 1))
    }
    let frequencies: [Double] = (0..<bins).map { Double($0) * Double(c.sampleRate) / 2 / Double(bins - 1) }
    return (0..<c.melCount).map { m in
      let lower = points[m], centre = points[m + 1], upper = points[m + 2]
      let norm = 2 / (upper - lower)
      return frequencies.map { f in
        let rising = (f - lower) / (centre - lower), falling = (upper - f) / (upper - centre)
        return max(0, min(rising, falling)) * norm
      }
    }
  }

  /// Frames for a signal of `samples` samples.
  public func frameCount(samples: Int) -> Int { 1 + samples / configuration.hopLength }

  /// [frames, melCount] natural-log mel power of a mono signal at `configuration.sampleRate`.
  public func callAsFunction(_ signal: [Float]) -> Tensor {
    let c = configuration
    let n = c.fftSize, bins = n / 2 + 1, half = n / 2
    let frames = frameCount(samples: signal.count)
    var padded = [Double](repeating: 0, count: signal.count + 2 * half)
    for i in 0..<signal.count { padded[half + i] = Double(signal[i]) }
    return Tensor(shape: [frames, c.melCount]) { out in
      padded.withUnsafeBufferPointer { x in
        var frame = [Double](repeating: 0, count: n)
        var power = [Double](repeating: 0, count: bins)
        var scratch = [Double](repeating: 0, count: 4 * n)
        for f in 0..<frames {
          let start = f * c.hopLength
          for i in 0..<n { frame[i] = start + i < x.count ? x[start + i] * window[i] : 0 }
          frame.withUnsafeBufferPointer { fr in
            power.withUnsafeMutableBufferPointer { p in
              scratch.withUnsafeMutableBufferPointer { s in
                fft.powerSpectrum(fr.baseAddress!, count: n, into: p.baseAddress!, scratch: s.baseAddress!)
              }
            }
          }
          for m in 0..<c.melCount {
            var sum = 0.0
            let row = filters[m]
            for k in 0..<bins where row[k] != 0 { sum += row[k] * power[k] }
            out[f * c.melCount + m] = Float(log(max(sum, c.floor)))
          }
        }
      }
    }
  }
}
