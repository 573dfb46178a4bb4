import CFFmpeg

/// An exact ratio of two integers: a frame rate (30000/1001) or a time base (1/15360).
public struct Rational: Hashable, Sendable, CustomStringConvertible {
  public var numerator: Int
  public var denominator: Int

  public init(_ numerator: Int, _ denominator: Int) {
    self.numerator = numerator
    self.denominator = denominator
  }

  /// The nearest ratio with a denominator up to `maxDenominator` (29.97 → 2997/100; pass
  /// `Rational(30000, 1001)` directly for NTSC rates).
  public init(approximating value: Double, maxDenominator: Int = 1_000_000) {
    let r = av_d2q(value, Int32(clamping: maxDenominator))
    self.init(Int(r.num), Int(r.den))
  }

  init(_ r: AVRational) { self.init(Int(r.num), Int(r.den)) }

  var av: AVRational { AVRational(num: Int32(clamping: numerator), den: Int32(clamping: denominator)) }

  /// True when both parts are positive (FFmpeg uses 0/0 or 0/1 for "unknown").
  public var isValid: Bool { numerator > 0 && denominator > 0 }

  public var doubleValue: Double { denominator == 0 ? 0 : Double(numerator) / Double(denominator) }

  /// The inverse ratio (a frame rate's frame duration).
  public var inverted: Rational { Rational(denominator, numerator) }

  /// Seconds for `ticks` of this time base.
  public func seconds(_ ticks: Int64) -> Double { Double(ticks) * Double(numerator) / Double(denominator) }

  public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }
}

/// `value` in time base `from`, rounded to the nearest tick of time base `to`.
func rescale(_ value: Int64, from: Rational, to: Rational) -> Int64 {
  av_rescale_q(value, from.av, to.av)
}
