import Foundation
import Tensors

/// The LPIPS perceptual distance (package `lpips` 0.1.4, version 0.1, `lpips=True`).
///
/// Both images are in [-1, 1], [N, 3, H, W]. Each goes through the scaling layer and the trunk;
/// at each of the five taps the features are unit-normalized over channels (eps 1e-10), their
/// squared difference is weighted by a 1×1 linear layer without bias and averaged over space,
/// and the five averages are summed. The result is differentiable with respect to either image.
///
/// Parameter names are lpips's own: `net.slice{k}.{i}.weight|bias` (torchvision's `features.{i}`)
/// and `lin{k}.model.1.weight`.
public struct LPIPS: Layer, Sendable {
  public let trunk: LPIPSTrunk
  let slices: [[(index: Int, module: FeatureModule)]]
  let lins: [Conv2dLayer]

  /// lpips's ScalingLayer constants, per RGB channel.
  static let shift: [Float] = [-0.030, -0.088, -0.188]
  static let scale: [Float] = [0.458, 0.448, 0.450]

  public init(trunk: LPIPSTrunk) {
    self.trunk = trunk
    slices = trunk.slices
    lins = trunk.channels.map { Conv2dLayer($0, 1, kernel: 1, bias: false) }
  }

  /// Loads a converted checkpoint (scripts/convert_checkpoints.py lpips); the trunk is read from
  /// the tensors' shapes unless given.
  public init(checkpoint: SafeTensorsFile, trunk: LPIPSTrunk? = nil) throws {
    guard let found = trunk ?? LPIPSTrunk(checkpoint: checkpoint) else {
      throw NetworkCheckpointError.unrecognized(
        network: "LPIPS", reason: "no 'net.slice1.0.weight' of VGG16 or AlexNet shape")
    }
    self.init(trunk: found)
    try load(from: checkpoint)
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    var out: [(name: String, parameter: Parameter)] = []
    for (k, slice) in slices.enumerated() {
      for (index, module) in slice {
        if case let .conv(conv) = module { out += conv.prefixed("net.slice\(k + 1).\(index)") }
      }
    }
    for (k, lin) in lins.enumerated() { out += lin.prefixed("lin\(k).model.1") }
    return out
  }

  /// The trunk's five tapped feature maps of an image already through the scaling layer.
  public func features(_ scaled: Tensor) -> [Tensor] {
    var h = scaled
    var taps: [Tensor] = []
    for slice in slices {
      for (_, module) in slice { h = module(h) }
      taps.append(h)
    }
    return taps
  }

  /// lpips's ScalingLayer: `(x − shift) / scale` per channel.
  public static func scaled(_ x: Tensor) -> Tensor {
    precondition(x.rank == 4 && x.shape[1] == 3, "LPIPS: images must be [N, 3, H, W], got \(x.shape)")
    return (x - Tensor(shift, shape: [1, 3, 1, 1])) / Tensor(scale, shape: [1, 3, 1, 1])
  }

  /// Channel-wise unit normalization, lpips's `x / (‖x‖₂ over channels + 1e-10)`, computed as
  /// `x · (‖x‖² + 1e-20)^(-1/2)`: the same to float32 precision wherever ‖x‖ ≫ 1e-10, finite
  /// with a finite gradient at ‖x‖ = 0 (where the reference's gradient is NaN), and its backward
  /// pass keeps no feature-sized tensor beyond `x` itself.
  static func unitNormalized(_ x: Tensor) -> Tensor {
    x * (x.squared().sum(axis: 1, keepDims: true) + 1e-20).rsqrt()
  }

  /// The distance of each pair, [N]. Gradients flow to whichever image requires them.
  public func distance(_ x0: Tensor, _ x1: Tensor) -> Tensor {
    precondition(x0.shape == x1.shape, "LPIPS: images of shapes \(x0.shape) and \(x1.shape)")
    let f0 = features(Self.scaled(x0)), f1 = features(Self.scaled(x1))
    var total = Tensor(zeros: [x0.shape[0], 1, 1, 1])
    for k in 0..<f0.count {
      let diff = (Self.unitNormalized(f0[k]) - Self.unitNormalized(f1[k])).squared()
      total = total + lins[k](diff).mean(axes: [2, 3], keepDims: true)
    }
    return total.reshaped([x0.shape[0]])
  }

  public func callAsFunction(_ x0: Tensor, _ x1: Tensor) -> Tensor { distance(x0, x1) }
}

extension LPIPS {
  /// Loads a converted checkpoint file; the trunk is read from the tensors' shapes unless given.
  public init(contentsOf url: URL, trunk: LPIPSTrunk? = nil) throws {
    try self.init(checkpoint: SafeTensorsFile(contentsOf: url), trunk: trunk)
  }
}
