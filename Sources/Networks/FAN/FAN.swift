import Foundation
import Tensors

/// The FAN landmark network (package `face-alignment` 1.5.0, `FAN(num_modules=4)` is 2D-FAN-4):
/// a 256² RGB crop in [0, 1] → 68 heatmaps of 64², one per landmark of the iBUG-68 scheme.
///
/// Batch norm runs in inference form (eval mode), so the output is a deterministic function of
/// the input and differentiable with respect to it. Parameter names are the package's
/// (`conv2.downsample.2.weight`, `m0.b2_plus_1.bn3.running_var`, `top_m_3.conv1.weight`, ...).
public struct FAN: Layer, Sendable {
  /// Landmarks per face.
  public static let landmarkCount = 68
  /// The side of the input crop and of the heatmaps.
  public static let inputSize = 256
  public static let heatmapSize = 64

  public let moduleCount: Int
  let conv1: Conv2dLayer
  let bn1: BatchNorm2dLayer
  let conv2: FANConvBlock, conv3: FANConvBlock, conv4: FANConvBlock
  let stacks: [Stack]

  /// One hourglass with its head; all but the last feed their heatmaps back (`bl`, `al`).
  struct Stack: Sendable {
    let hourglass: FANHourglass
    let top: FANConvBlock
    let convLast: Conv2dLayer
    let bnEnd: BatchNorm2dLayer
    let head: Conv2dLayer
    let feedback: (features: Conv2dLayer, heatmaps: Conv2dLayer)?
  }

  public init(modules: Int = 4) {
    precondition(modules >= 1, "FAN needs at least one hourglass module")
    moduleCount = modules
    conv1 = Conv2dLayer(3, 64, kernel: 7, stride: 2, padding: 3)
    bn1 = BatchNorm2dLayer(64)
    conv2 = FANConvBlock(64, 128)
    conv3 = FANConvBlock(128, 128)
    conv4 = FANConvBlock(128, 256)
    stacks = (0..<modules).map { i in
      Stack(
        hourglass: FANHourglass(depth: 4, features: 256),
        top: FANConvBlock(256, 256),
        convLast: Conv2dLayer(256, 256, kernel: 1),
        bnEnd: BatchNorm2dLayer(256),
        head: Conv2dLayer(256, FAN.landmarkCount, kernel: 1),
        feedback: i < modules - 1
          ? (Conv2dLayer(256, 256, kernel: 1), Conv2dLayer(FAN.landmarkCount, 256, kernel: 1)) : nil)
    }
  }

  /// Loads a converted checkpoint (scripts/convert_checkpoints.py fan); the number of
  /// hourglass modules is read from its names.
  public init(checkpoint: SafeTensorsFile) throws {
    var modules = 0
    while checkpoint.contains("l\(modules).weight") { modules += 1 }
    guard modules > 0 else {
      throw NetworkCheckpointError.unrecognized(network: "FAN", reason: "no heatmap head 'l0.weight'")
    }
    self.init(modules: modules)
    try load(from: checkpoint)
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    var children: [(String, any Layer)] = [
      ("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("conv3", conv3), ("conv4", conv4),
    ]
    for (i, s) in stacks.enumerated() {
      children += [("m\(i)", s.hourglass), ("top_m_\(i)", s.top), ("conv_last\(i)", s.convLast),
                   ("bn_end\(i)", s.bnEnd), ("l\(i)", s.head)]
      if let feedback = s.feedback { children += [("bl\(i)", feedback.features), ("al\(i)", feedback.heatmaps)] }
    }
    return ParameterTree.join(children)
  }

  /// The heatmaps of every hourglass module, [N, 68, H/4, W/4] each; the last is the prediction.
  public func allHeatmaps(_ image: Tensor) -> [Tensor] {
    precondition(image.rank == 4 && image.shape[1] == 3, "FAN: input must be [N, 3, H, W] RGB, got \(image.shape)")
    var x = bn1(conv1(image), relu: true)
    x = conv2(x).avgPool2d(kernel: 2, stride: 2)
    x = conv4(conv3(x))
    var previous = x
    var outputs: [Tensor] = []
    for s in stacks {
      let ll = s.bnEnd(s.convLast(s.top(s.hourglass(previous))), relu: true)
      let heatmaps = s.head(ll)
      outputs.append(heatmaps)
      if let feedback = s.feedback {
        previous = previous + feedback.features(ll) + feedback.heatmaps(heatmaps)
      }
    }
    return outputs
  }

  /// The heatmaps of the last module: [N, 68, 64, 64] for a [N, 3, 256, 256] crop in [0, 1].
  public func heatmaps(_ image: Tensor) -> Tensor {
    allHeatmaps(image)[moduleCount - 1]
  }

  public func callAsFunction(_ image: Tensor) -> Tensor { heatmaps(image) }
}

extension FAN {
  /// Loads a converted checkpoint file (scripts/convert_checkpoints.py).
  public init(contentsOf url: URL) throws {
    try self.init(checkpoint: SafeTensorsFile(contentsOf: url))
  }
}
