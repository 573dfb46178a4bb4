import Foundation

/// A small, fast, seedable generator (SplitMix64) so that "seeded random" is reproducible
/// across runs and machines.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1) with 24 random bits.
  mutating func nextUnitFloat() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }
}

extension Tensor {
  /// Normal samples (Box–Muller) from a seed.
  public static func randomNormal(_ shape: Shape, mean: Float = 0, standardDeviation: Float = 1, seed: UInt64) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    return Tensor(shape: shape) { buf in
      var i = 0
      while i < buf.count {
        let u1 = Swift.max(rng.nextUnitFloat(), 1e-12), u2 = rng.nextUnitFloat()
        let r = (-2 * Foundation.log(u1)).squareRoot()
        buf[i] = mean + standardDeviation * r * Foundation.cos(2 * .pi * u2)
        if i + 1 < buf.count { buf[i + 1] = mean + standardDeviation * r * Foundation.sin(2 * .pi * u2) }
        i += 2
      }
    }
  }

  /// Uniform samples in `range` from a seed.
  public static func randomUniform(_ shape: Shape, in range: ClosedRange<Float> = 0...1, seed: UInt64) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    let width = range.upperBound - range.lowerBound
    return Tensor(shape: shape) { buf in
      for i in 0..<buf.count { buf[i] = range.lowerBound + width * rng.nextUnitFloat() }
    }
  }

  /// The deterministic fill of the reference fixtures (shared/fixtures/README.md): a hash of
  /// the flat index and the seed mapped to `offset + scale·(2u − 1)`, computed in double and
  /// rounded once, so it reproduces the reference's parameters bit for bit.
  public static func deterministicFill(_ shape: Shape, seed: Int, scale: Double, offset: Double) -> Tensor {
    let seedTerm = UInt64(truncatingIfNeeded: seed) &* 97_531
    return Tensor(shape: shape) { buf in
      for i in 0..<buf.count {
        var x = (UInt64(i) &* 2_654_435_761 &+ seedTerm) & 0xFFFF_FFFF
        x ^= x >> 15
        x = (x &* 0x2C1B_3C6D) & 0xFFFF_FFFF
        x ^= x >> 12
        x = (x &* 0x297A_2D39) & 0xFFFF_FFFF
        x ^= x >> 15
        let u = Double(x) / 4_294_967_296.0
        buf[i] = Float(offset + scale * (2.0 * u - 1.0))
      }
    }
  }
}

/// The `fill` metadata of a reference fixture: `{name: [seed, scale, offset, shape]}`.
public struct FillSpecification: Sendable {
  public struct Entry: Sendable {
    public let seed: Int
    public let scale: Double
    public let offset: Double
    public let shape: Shape
  }

  public let entries: [String: Entry]

  public init(json: String) throws {
    guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
      throw SafeTensorsError.malformedHeader("fill specification is not a JSON object")
    }
    var entries: [String: Entry] = [:]
    for (name, value) in object {
      guard let v = value as? [Any], v.count == 4,
        let seed = (v[0] as? NSNumber)?.intValue,
        let scale = (v[1] as? NSNumber)?.doubleValue,
        let offset = (v[2] as? NSNumber)?.doubleValue,
        let dims = v[3] as? [Any]
      else { throw SafeTensorsError.malformedHeader("fill entry '\(name)' is not [seed, scale, offset, shape]") }
      entries[name] = Entry(seed: seed, scale: scale, offset: offset, shape: Shape(dims.compactMap { ($0 as? NSNumber)?.intValue }))
    }
    self.entries = entries
  }

  /// The filled tensor for `name`.
  public func tensor(_ name: String) -> Tensor? {
    entries[name].map { Tensor.deterministicFill($0.shape, seed: $0.seed, scale: $0.scale, offset: $0.offset) }
  }
}
