// Broadcasting arithmetic. Each backward sums the output gradient back to the input's shape.

extension Tensor {
  public static func + (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastMap(a, b, +)
    let sa = a.shape, sb = b.shape
    return record(out, inputs: [a, b]) { g in [g.sumToShape(sa), g.sumToShape(sb)] }
  }

  public static func - (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastMap(a, b, -)
    let sa = a.shape, sb = b.shape
    return record(out, inputs: [a, b]) { g in [g.sumToShape(sa), (-g).sumToShape(sb)] }
  }

  public static func * (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastMap(a, b, *)
    let a0 = a.detached(), b0 = b.detached()
    let needA = a.node != nil, needB = b.node != nil
    return record(out, inputs: [a, b]) { g in
      [
        needA ? (g * b0).sumToShape(a0.shape) : nil,
        needB ? (g * a0).sumToShape(b0.shape) : nil,
      ]
    }
  }

  public static func / (a: Tensor, b: Tensor) -> Tensor {
    let out = broadcastMap(a, b, /)
    let a0 = a.detached(), b0 = b.detached()
    let needA = a.node != nil, needB = b.node != nil
    return record(out, inputs: [a, b]) { g in
      [
        needA ? (g / b0).sumToShape(a0.shape) : nil,
        needB ? (broadcastMap(g, out, *) / b0).negated().sumToShape(b0.shape) : nil,
      ]
    }
  }

  public static prefix func - (a: Tensor) -> Tensor { a.negated() }

  public func negated() -> Tensor {
    Tensor.record(map { -$0 }, input: self) { $0.negated() }
  }

  // Scalars.
  public static func + (a: Tensor, s: Float) -> Tensor { record(a.map { $0 + s }, input: a) { $0 } }
  public static func + (s: Float, a: Tensor) -> Tensor { a + s }
  public static func - (a: Tensor, s: Float) -> Tensor { a + (-s) }
  public static func - (s: Float, a: Tensor) -> Tensor { record(a.map { s - $0 }, input: a) { $0.negated() } }
  public static func * (a: Tensor, s: Float) -> Tensor { record(a.map { $0 * s }, input: a) { $0 * s } }
  public static func * (s: Float, a: Tensor) -> Tensor { a * s }
  public static func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }
  public static func / (s: Float, a: Tensor) -> Tensor {
    let out = a.map { s / $0 }
    let a0 = a.detached()
    return record(out, input: a) { g in broadcastMap(g, out, *) / a0.negated() }
  }

  public static func += (a: inout Tensor, b: Tensor) { a = a + b }
  public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
  public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
  public static func *= (a: inout Tensor, s: Float) { a = a * s }
}
