import Foundation
@testable import Media
import Tensors
import XCTest

/// MFCCs, EVP windows and log-mel spectrograms against the references of
/// scripts/make_media_fixtures.py (python_speech_features 0.6 and librosa).
final class FeatureTests: XCTestCase {
  static let reference: SafeTensorsFile = {
    let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/mfcc_reference.safetensors")
    do { return try SafeTensorsFile(contentsOf: url) } catch { fatalError("test fixture unreadable: \(error)") }
  }()

  static let signalNames = ["chirp", "noise", "speech", "short", "narrowband", "wideband"]

  /// Largest |a − b| / |b| over all elements (|b| floored at 1e-6).
  func maxRelativeError(_ a: Tensor, _ b: Tensor) -> Double {
    XCTAssertEqual(a.shape, b.shape)
    guard a.shape == b.shape else { return .infinity }
    var worst = 0.0
    for (x, y) in zip(a.scalars, b.scalars) {
      worst = max(worst, Double(abs(x - y)) / max(Double(abs(y)), 1e-6))
    }
    return worst
  }

  func configuration(for name: String) throws -> MFCC.Configuration {
    let text = try XCTUnwrap(Self.reference.metadata["config/\(name)"])
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    var c = MFCC.Configuration()
    c.sampleRate = json["samplerate"] as! Int
    c.windowLength = (json["winlen"] as! NSNumber).doubleValue
    c.windowStep = (json["winstep"] as! NSNumber).doubleValue
    c.coefficientCount = json["numcep"] as! Int
    c.filterCount = json["nfilt"] as! Int
    c.fftSize = json["nfft"] as! Int
    c.lowFrequency = (json["lowfreq"] as! NSNumber).doubleValue
    c.highFrequency = (json["highfreq"] as? NSNumber)?.doubleValue
    c.preemphasis = (json["preemph"] as! NSNumber).doubleValue
    c.cepstralLifter = json["ceplifter"] as! Int
    c.appendEnergy = json["appendEnergy"] as! Bool
    return c
  }

  func testMFCCMatchesPythonSpeechFeatures() throws {
    for name in Self.signalNames {
      let signal = try Self.reference.tensor("signal/\(name)").scalars
      let expected = try Self.reference.tensor("mfcc/\(name)")
      let mfcc = MFCC(try configuration(for: name))
      let actual = mfcc(signal)
      XCTAssertEqual(mfcc.frameCount(samples: signal.count), expected.shape[0], name)
      let error = maxRelativeError(actual, expected)
      XCTAssertLessThanOrEqual(error, 1e-3, "\(name): max relative error \(error)")
      print("mfcc \(name) \(expected.shape): max relative error \(error)")
    }
  }

  func testDefaultConfigurationIsTheIssuesOne() {
    let c = MFCC.Configuration()
    XCTAssertEqual([c.sampleRate, c.coefficientCount, c.filterCount, c.fftSize, c.cepstralLifter], [16000, 13, 26, 512, 22])
    XCTAssertEqual([c.windowLength, c.windowStep, c.preemphasis], [0.025, 0.01, 0.97])
    XCTAssertTrue(c.appendEnergy)
    let mfcc = MFCC()
    XCTAssertEqual(mfcc.frameLength, 400)
    XCTAssertEqual(mfcc.frameStep, 160)
    XCTAssertEqual(mfcc.frameCount(samples: 400), 1)
    XCTAssertEqual(mfcc.frameCount(samples: 401), 2)
    XCTAssertEqual(mfcc.frameCount(samples: 16000), 99)
  }

  func testRoundHalfUpMatchesPythonDecimal() {
    XCTAssertEqual(MFCC.roundHalfUp(400.00000000000006), 400)
    XCTAssertEqual(MFCC.roundHalfUp(551.25), 551)
    XCTAssertEqual(MFCC.roundHalfUp(2.5), 3)
    XCTAssertEqual(MFCC.roundHalfUp(0.49999999999999994), 0)
  }

  func testFFTMatchesDirectDFT() {
    for n in [1, 2, 3, 5, 8, 12, 49, 512, 800] {
      let fft = FFT(size: n)
      let re = (0..<n).map { sin(Double($0) * 0.37) + 0.1 * Double($0 % 7) }
      let im = (0..<n).map { cos(Double($0) * 0.11) }
      var outRe = [Double](repeating: 0, count: n), outIm = [Double](repeating: 0, count: n)
      fft.transform(re: re, im: im, outRe: &outRe, outIm: &outIm)
      var worst = 0.0
      for k in 0..<n {
        var sr = 0.0, si = 0.0
        for j in 0..<n {
          let a = -2 * Double.pi * Double(j * k % n) / Double(n)
          sr += re[j] * cos(a) - im[j] * sin(a)
          si += re[j] * sin(a) + im[j] * cos(a)
        }
        worst = max(worst, abs(sr - outRe[k]), abs(si - outIm[k]))
      }
      XCTAssertLessThan(worst, 1e-9 * Double(n), "FFT size \(n)")
    }
  }

  func testSpeechWindowsMatchEVP() throws {
    let signal = try Self.reference.tensor("signal/speech").scalars
    let expected = try Self.reference.tensor("windows/speech")
    let windows = SpeechWindows(framesPerSecond: 25)
    let actual = windows(signal)
    XCTAssertEqual(actual.shape, expected.shape)
    let error = maxRelativeError(actual, expected)
    XCTAssertLessThanOrEqual(error, 1e-3, "EVP windows: max relative error \(error)")
    // Rows 4k… at 25 fps; 1.2 s of audio at 25 fps is 30 frames, EVP's count gives 29.
    XCTAssertEqual(windows.firstRow(ofFrame: 7), 28)
    // Asking for every video frame pads the end with silence instead of dropping frames.
    let all = windows(signal, frameCount: 30)
    XCTAssertEqual(all.shape, [30, 28, 12])
    let prefix = Array(all.scalars.prefix(expected.count))
    XCTAssertEqual(prefix, actual.scalars)
  }

  func testSpeechWindowsGeneralizeToOtherFrameRates() {
    let windows = SpeechWindows(framesPerSecond: 30000.0 / 1001)
    // 100 MFCC rows per second over 29.97 frames per second: ≈3.34 rows per frame.
    XCTAssertEqual((0..<4).map(windows.firstRow(ofFrame:)), [0, 3, 7, 10])
    let signal = tone(seconds: 2, sampleRate: 16000)
    let t = windows(signal, frameCount: 60)
    XCTAssertEqual(t.shape, [60, 28, 12])
    // Window k equals rows firstRow(k)… of the padded signal's MFCCs.
    let padded = [Float](repeating: 0, count: 1920) + signal + [Float](repeating: 0, count: 4000)
    let mfcc = MFCC()(padded)
    for k in [0, 17, 59] {
      let r = windows.firstRow(ofFrame: k) + 5
      XCTAssertEqual(t[k, 5, 3], mfcc[r, 4], "frame \(k)")
    }
  }

  func testLogMelMatchesLibrosa() throws {
    let spectrogram = LogMelSpectrogram()
    for name in ["chirp", "speech"] {
      let signal = try Self.reference.tensor("signal/\(name)").scalars
      let expected = try Self.reference.tensor("logmel/\(name)")
      let actual = spectrogram(signal)
      XCTAssertEqual(actual.shape, expected.shape)
      // Absolute error in the log domain is the relative error of the mel power.
      var worst: Float = 0
      for (a, b) in zip(actual.scalars, expected.scalars) { worst = max(worst, abs(a - b)) }
      XCTAssertLessThanOrEqual(worst, 1e-3, "\(name): max |Δ log mel| \(worst)")
      print("logmel \(name) \(expected.shape): max |Δ log| \(worst)")
    }
  }
}
