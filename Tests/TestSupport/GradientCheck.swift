import Foundation
import Tensors

/// Compares autodiff gradients with central finite differences.
///
/// The scalar probed is `Σ f(x)·R` for a fixed random `R`, so every output element counts.
/// Losses are accumulated in double precision; `epsilon` is the step in each input element.
public struct GradientCheck {
  public struct Result: CustomStringConvertible {
    /// max |analytic − numeric| / (max |numeric| + 1e-3), per input.
    public let relativeErrors: [Double]
    public let checkedElements: Int
    public var worst: Double { relativeErrors.max() ?? 0 }
    public var description: String {
      "relative errors \(relativeErrors.map { String(format: "%.2e", $0) }) over \(checkedElements) elements"
    }
  }

  public var epsilon: Float = 1e-2
  /// At most this many elements of each input are probed (chosen by a seeded shuffle).
  public var maxElementsPerInput = 48
  public var seed: UInt64 = 12_345

  public init(epsilon: Float = 1e-2, maxElementsPerInput: Int = 48, seed: UInt64 = 12_345) {
    self.epsilon = epsilon
    self.maxElementsPerInput = maxElementsPerInput
    self.seed = seed
  }

  public func run(_ inputs: [Tensor], _ f: ([Tensor]) -> Tensor) -> Result {
    let probe = f(inputs.map { $0.detached() })
    let weights = Tensor.randomNormal(probe.shape, seed: seed)
    func loss(_ xs: [Tensor]) -> Double {
      let y = f(xs)
      return y.withUnsafeBufferPointer { py in
        weights.withUnsafeBufferPointer { pw in
          var s = 0.0
          for i in 0..<py.count { s += Double(py[i]) * Double(pw[i]) }
          return s
        }
      }
    }
    let leaves = inputs.map { $0.requiringGradient() }
    let output = (f(leaves) * weights).sum()
    let analytic = gradients(of: output, wrt: leaves)
    var errors: [Double] = []
    var checked = 0
    var rng = SeededGenerator(seed: seed &+ 1)
    for (k, input) in inputs.enumerated() {
      var indices = Array(0..<input.count)
      indices.shuffle(using: &rng)
      indices = Array(indices.prefix(maxElementsPerInput))
      var maxDiff = 0.0, maxNumeric = 0.0
      for i in indices {
        var plus = inputs.map { $0.detached() }, minus = plus
        plus[k].withUnsafeMutableBufferPointer { $0[i] += epsilon }
        minus[k].withUnsafeMutableBufferPointer { $0[i] -= epsilon }
        // The actual step after float rounding, so the quotient uses the true difference.
        let step = Double(plus[k].scalars[i]) - Double(minus[k].scalars[i])
        let numeric = (loss(plus) - loss(minus)) / step
        let a = Double(analytic[k].scalars[i])
        maxDiff = max(maxDiff, Swift.abs(a - numeric))
        maxNumeric = max(maxNumeric, Swift.abs(numeric))
        checked += 1
      }
      errors.append(maxDiff / (maxNumeric + 1e-3))
    }
    return Result(relativeErrors: errors, checkedElements: checked)
  }
}
