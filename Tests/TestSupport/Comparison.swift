import Tensors

/// The fixtures' tolerance measure: max |a − b| / (max |b| + 1e-6).
public func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
  precondition(a.shape == b.shape, "comparing \(a.shape) with \(b.shape)")
  var maxDiff = 0.0, maxRef = 0.0
  let x = a.scalars, y = b.scalars
  for i in 0..<x.count {
    maxDiff = max(maxDiff, Swift.abs(Double(x[i]) - Double(y[i])))
    maxRef = max(maxRef, Swift.abs(Double(y[i])))
  }
  return maxDiff / (maxRef + 1e-6)
}
