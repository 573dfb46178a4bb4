import Tensors

/// The two regions stitching tuning looks at in an N×N crop: the face (BiSeNet's mask) and the
/// boundary band around it — the mask dilated minus the mask, plus a band along the crop's
/// edges — where the edited crop must meet the original frame.
public struct StitchingMasks: Sendable {
  /// [1, 1, N, N], 1 inside the face.
  public let face: Tensor
  /// [1, 1, N, N], 1 on the boundary band.
  public let band: Tensor

  /// `faceMask`: [N, N] or [1, 1, N, N] in 0...1 (thresholded at 0.5).
  public init(faceMask: Tensor, dilation: Int, edge: Int) {
    let n = faceMask.shape[faceMask.rank - 1]
    precondition(faceMask.count == n * n, "StitchingMasks: a square mask, got \(faceMask.shape)")
    precondition(dilation >= 0 && edge >= 0, "StitchingMasks: dilation and edge must not be negative")
    let inside = faceMask.scalars.map { $0 >= 0.5 ? Float(1) : 0 }
    let grown = MaskFilters.morphology(inside, width: n, height: n, radius: dilation, dilate: true)
    let band = (0..<(n * n)).map { i -> Float in
      let (x, y) = (i % n, i / n)
      let nearEdge = x < edge || y < edge || x >= n - edge || y >= n - edge
      return (grown[i] > 0 && inside[i] == 0) || nearEdge ? 1 : 0
    }
    face = Tensor(inside, shape: [1, 1, n, n])
    self.band = Tensor(band, shape: [1, 1, n, n])
  }
}
