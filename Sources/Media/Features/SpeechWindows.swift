import Tensors

/// The MFCC windows the audio-to-landmark network reads, one per video frame, in EVP's
/// convention (Ji et al., 2021, after ATVGnet): the 16 kHz signal is padded with 0.12 s of
/// silence at both ends, MFCCs are taken every 10 ms, and video frame k reads the 28 MFCC rows
/// starting at row round(k · 100 / fps) — at 25 fps rows 4k…4k+27, which span the frame's 40 ms
/// and 120 ms either side — keeping coefficients 1…12 (coefficient 0, the log energy, is dropped).
public struct SpeechWindows: Sendable {
  /// MFCC rows per window.
  public static let windowLength = 28
  /// Seconds of silence added before and after the signal.
  public static let padding = 0.12

  public let mfcc: MFCC
  public let framesPerSecond: Double

  public init(framesPerSecond: Double = 25, mfcc: MFCC = MFCC()) {
    precondition(framesPerSecond > 0, "frames per second must be positive")
    precondition(mfcc.configuration.coefficientCount >= 13, "SpeechWindows keeps MFCC coefficients 1…12")
    self.mfcc = mfcc
    self.framesPerSecond = framesPerSecond
  }

  /// The first MFCC row of video frame `k`'s window.
  public func firstRow(ofFrame k: Int) -> Int {
    Int((Double(k) * mfcc.configuration.windowStep.reciprocal / framesPerSecond).rounded())
  }

  /// How many whole windows an MFCC matrix of `rows` rows holds.
  public func windowCount(rows: Int) -> Int {
    var count = 0
    while firstRow(ofFrame: count) + Self.windowLength <= rows { count += 1 }
    return count
  }

  /// [frames, 28, 12] windows of a mono signal at the MFCC's sample rate. With `frameCount` nil,
  /// as many frames as whole windows fit (EVP's count); otherwise exactly `frameCount`, the
  /// signal being padded with more silence at the end when it runs short.
  public func callAsFunction(_ signal: [Float], frameCount: Int? = nil) -> Tensor {
    let rate = Double(mfcc.configuration.sampleRate)
    let pad = Int((Self.padding * rate).rounded())
    var samples = [Float](repeating: 0, count: pad) + signal + [Float](repeating: 0, count: pad)
    if let frameCount, frameCount > 0 {
      // The last window's last row must exist: rows r cover samples r·step ..< r·step + length.
      let lastRow = firstRow(ofFrame: frameCount - 1) + Self.windowLength - 1
      let needed = lastRow * mfcc.frameStep + mfcc.frameLength
      if samples.count < needed { samples += [Float](repeating: 0, count: needed - samples.count) }
    }
    let features = mfcc(samples)
    let rows = features.shape[0], columns = features.shape[1]
    let frames = frameCount ?? windowCount(rows: rows)
    let width = 12
    return Tensor(shape: [frames, Self.windowLength, width]) { out in
      features.withUnsafeBufferPointer { src in
        for k in 0..<frames {
          let start = firstRow(ofFrame: k)
          for r in 0..<Self.windowLength {
            for c in 0..<width {
              out[(k * Self.windowLength + r) * width + c] = src[(start + r) * columns + 1 + c]
            }
          }
        }
      }
    }
  }
}

private extension Double {
  var reciprocal: Double { 1 / self }
}
