import Foundation
import Tensors

/// Mel-frequency cepstral coefficients computed exactly as python_speech_features' `mfcc`
/// (version 0.6): pre-emphasis, unwindowed frames (lengths rounded half up, the last frame zero
/// padded), |rfft|²/nfft, a triangular mel filterbank on FFT bins, log, orthonormal DCT-II,
/// sinusoidal lifter, and coefficient 0 replaced by the log frame energy. Computed in double
/// precision; results are float32 [frames, coefficientCount].
public struct MFCC: Sendable {
  /// The parameters of python_speech_features.mfcc, with its defaults.
  public struct Configuration: Sendable, Equatable {
    public var sampleRate: Int = 16_000
    /// Window length in seconds (winlen).
    public var windowLength: Double = 0.025
    /// Step between windows in seconds (winstep).
    public var windowStep: Double = 0.01
    /// Coefficients kept (numcep).
    public var coefficientCount: Int = 13
    /// Mel filters (nfilt).
    public var filterCount: Int = 26
    /// FFT size (nfft); frames longer than it are truncated, shorter ones zero padded.
    public var fftSize: Int = 512
    public var lowFrequency: Double = 0
    /// Upper band edge in Hz; nil (or 0) is sampleRate / 2.
    public var highFrequency: Double? = nil
    /// Pre-emphasis coefficient (0: none).
    public var preemphasis: Double = 0.97
    /// Cepstral lifter L (0: none).
    public var cepstralLifter: Int = 22
    /// Replace coefficient 0 with the log of the frame's total energy.
    public var appendEnergy: Bool = true

    public init() {}
  }

  public let configuration: Configuration
  /// Samples per frame and per step (winlen·rate and winstep·rate, rounded half up).
  public let frameLength: Int
  public let frameStep: Int
  /// [filterCount][fftSize/2 + 1] triangular filters on FFT bins.
  let filterbank: [[Double]]
  private let fft: FFT
  /// [coefficientCount][filterCount] orthonormal DCT-II rows, lifter applied.
  private let dct: [[Double]]

  public init(_ configuration: Configuration = Configuration()) {
    precondition(configuration.sampleRate > 0 && configuration.fftSize > 0 && configuration.filterCount > 0,
                 "MFCC needs a positive sample rate, FFT size and filter count")
    precondition(configuration.coefficientCount >= 1 && configuration.coefficientCount <= configuration.filterCount,
                 "MFCC keeps 1…filterCount coefficients")
    self.configuration = configuration
    frameLength = Self.roundHalfUp(configuration.windowLength * Double(configuration.sampleRate))
    frameStep = Self.roundHalfUp(configuration.windowStep * Double(configuration.sampleRate))
    precondition(frameLength > 0 && frameStep > 0, "MFCC window and step must be at least one sample")
    let high = (configuration.highFrequency ?? 0) == 0 ? Double(configuration.sampleRate) / 2 : configuration.highFrequency!
    filterbank = Self.filterbank(filters: configuration.filterCount, fftSize: configuration.fftSize,
                                 sampleRate: configuration.sampleRate, low: configuration.lowFrequency, high: high)
    fft = FFT(size: configuration.fftSize)
    let n = configuration.filterCount, lifter = Double(configuration.cepstralLifter)
    dct = (0..<configuration.coefficientCount).map { k in
      let scale = k == 0 ? (1 / Double(n)).squareRoot() : (2 / Double(n)).squareRoot()
      let lift = lifter > 0 ? 1 + lifter / 2 * sin(Double.pi * Double(k) / lifter) : 1
      return (0..<n).map { i in scale * lift * cos(Double.pi * Double(k) * Double(2 * i + 1) / Double(2 * n)) }
    }
  }

  /// Python's decimal ROUND_HALF_UP of a non-negative value.
  static func roundHalfUp(_ x: Double) -> Int {
    let f = x.rounded(.down)
    return Int(x - f >= 0.5 ? f + 1 : f)
  }

  static func hzToMel(_ hz: Double) -> Double { 2595 * log10(1 + hz / 700) }
  static func melToHz(_ mel: Double) -> Double { 700 * (pow(10, mel / 2595) - 1) }

  /// python_speech_features.get_filterbanks: triangles between mel-spaced FFT bins.
  static func filterbank(filters: Int, fftSize: Int, sampleRate: Int, low: Double, high: Double) -> [[Double]] {
    let lowMel = hzToMel(low), highMel = hzToMel(high)
    let step = (highMel - lowMel) / Double(filters + 1)
    let bins: [Double] = (0..<(filters + 2)).map { i in
      let mel = i == filters + 1 ? highMel : Double(i) * step + lowMel
      return (Double(fftSize + 1) * melToHz(mel) / Double(sampleRate)).rounded(.down)
    }
    var bank = [[Double]](repeating: [Double](repeating: 0, count: fftSize / 2 + 1), count: filters)
    for j in 0..<filters {
      let (a, b, c) = (bins[j], bins[j + 1], bins[j + 2])
      var i = Int(a)
      while i < Int(b) { if i >= 0 && i <= fftSize / 2 { bank[j][i] = (Double(i) - a) / (b - a) }; i += 1 }
      i = Int(b)
      while i < Int(c) { if i >= 0 && i <= fftSize / 2 { bank[j][i] = (c - Double(i)) / (c - b) }; i += 1 }
    }
    return bank
  }

  /// Frames python_speech_features makes from `sampleCount` samples.
  public func frameCount(samples sampleCount: Int) -> Int {
    sampleCount <= frameLength ? 1 : 1 + (sampleCount - frameLength + frameStep - 1) / frameStep
  }

  /// The MFCCs of a mono signal at `configuration.sampleRate`: [frames, coefficientCount].
  public func callAsFunction(_ signal: [Float]) -> Tensor {
    let coefficients = configuration.coefficientCount, filters = configuration.filterCount
    let frames = frameCount(samples: signal.count)
    let padded = (frames - 1) * frameStep + frameLength
    // Pre-emphasis, then zero padding to whole frames.
    var emphasized = [Double](repeating: 0, count: padded)
    let c = configuration.preemphasis
    for i in 0..<signal.count {
      emphasized[i] = i == 0 ? Double(signal[0]) : Double(signal[i]) - c * Double(signal[i - 1])
    }
    let bins = configuration.fftSize / 2 + 1
    let eps = Double.ulpOfOne
    let nfft = Double(configuration.fftSize)
    return Tensor(shape: [frames, coefficients]) { out in
      emphasized.withUnsafeBufferPointer { x in
        var power = [Double](repeating: 0, count: bins)
        var scratch = [Double](repeating: 0, count: 4 * configuration.fftSize)
        var logBands = [Double](repeating: 0, count: filters)
        for f in 0..<frames {
          power.withUnsafeMutableBufferPointer { p in
            scratch.withUnsafeMutableBufferPointer { s in
              fft.powerSpectrum(x.baseAddress! + f * frameStep, count: frameLength, into: p.baseAddress!, scratch: s.baseAddress!)
            }
          }
          var energy = 0.0
          for k in 0..<bins { power[k] /= nfft; energy += power[k] }
          if energy == 0 { energy = eps }
          for j in 0..<filters {
            var sum = 0.0
            let row = filterbank[j]
            for k in 0..<bins where row[k] != 0 { sum += power[k] * row[k] }
            logBands[j] = log(sum == 0 ? eps : sum)
          }
          for k in 0..<coefficients {
            var sum = 0.0
            let row = dct[k]
            for j in 0..<filters { sum += row[j] * logBands[j] }
            out[f * coefficients + k] = Float(sum)
          }
          if configuration.appendEnergy { out[f * coefficients] = Float(log(energy)) }
        }
      }
    }
  }
}
