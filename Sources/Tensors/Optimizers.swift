import Foundation

/// Adam as PyTorch implements it (bias-corrected moments, eps outside the square root,
/// L2 weight decay added to the gradient).
public struct Adam {
  public var learningRate: Float
  public var beta1: Float
  public var beta2: Float
  public var epsilon: Float
  public var weightDecay: Float
  private var state: [ObjectIdentifier: (m: [Float], v: [Float], step: Int)] = [:]

  public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
  }

  /// Updates every parameter that has a gradient, then clears the gradients.
  public mutating func step(_ parameters: [Parameter]) {
    for p in parameters {
      guard let g = p.gradient else { continue }
      let key = ObjectIdentifier(p)
      var s = state[key] ?? ([Float](repeating: 0, count: p.value.count), [Float](repeating: 0, count: p.value.count), 0)
      state[key] = nil  // keep the moment buffers uniquely referenced while updating them
      s.step += 1
      let b1 = beta1, b2 = beta2, eps = epsilon, wd = weightDecay
      let c1 = 1 - Foundation.pow(b1, Float(s.step)), c2 = 1 - Foundation.pow(b2, Float(s.step))
      let stepSize = learningRate / c1
      let sqrtC2 = c2.squareRoot()
      g.withUnsafeBufferPointer { pg in
        p.value.withUnsafeMutableBufferPointer { pw in
          s.m.withUnsafeMutableBufferPointer { m in
            s.v.withUnsafeMutableBufferPointer { v in
              for i in 0..<pw.count {
                let gi = pg[i] + wd * pw[i]
                m[i] = b1 * m[i] + (1 - b1) * gi
                v[i] = b2 * v[i] + (1 - b2) * gi * gi
                pw[i] -= stepSize * m[i] / (v[i].squareRoot() / sqrtC2 + eps)
              }
            }
          }
        }
      }
      state[key] = s
      p.gradient = nil
    }
  }
}

/// Stochastic gradient descent with optional momentum (PyTorch's formulation).
public struct SGD {
  public var learningRate: Float
  public var momentum: Float
  private var velocity: [ObjectIdentifier: [Float]] = [:]

  public init(learningRate: Float, momentum: Float = 0) {
    self.learningRate = learningRate
    self.momentum = momentum
  }

  public mutating func step(_ parameters: [Parameter]) {
    for p in parameters {
      guard let g = p.gradient else { continue }
      let key = ObjectIdentifier(p)
      var buf = velocity.removeValue(forKey: key) ?? []
      let lr = learningRate, mu = momentum
      g.withUnsafeBufferPointer { pg in
        p.value.withUnsafeMutableBufferPointer { pw in
          if mu == 0 {
            for i in 0..<pw.count { pw[i] -= lr * pg[i] }
          } else {
            if buf.isEmpty { buf = Array(pg) } else { for i in 0..<buf.count { buf[i] = mu * buf[i] + pg[i] } }
            for i in 0..<pw.count { pw[i] -= lr * buf[i] }
          }
        }
      }
      if mu != 0 { velocity[key] = buf }
      p.gradient = nil
    }
  }
}
