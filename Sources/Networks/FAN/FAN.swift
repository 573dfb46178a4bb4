import Foundation
import Tensors

/// The FAN landmark network (package `face-alignment` 1.5.0, `FAN(num_modules=4)` is 2D-FAN-4):
/// a 256² RGB crop in [0, 1] → 68 heatmaps of 64², one per landmark of the iBUG-68 scheme.
///
/// Reduced networks (trained by the project itself) keep the layout with a narrower trunk
/// (`width` channels instead of 256, the stem scaled with it) and may read a smaller crop
/// (`inputSize`, heatmaps a quarter of it); their checkpoints carry both (see `metadata`).
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
  /// Channels of the hourglass trunk: 256 for the published network.
  public let width: Int
  /// The side of the crop this network reads (256 for the published network); its heatmaps
  /// are `heatmapSize` = inputSize / 4 pixels square.
  public let inputSize: Int
  public var heatmapSize: Int { inputSize / 4 }
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

  /// `width` is the trunk's channel count (256 published; a multiple of 16), the stem runs at
  /// width/4 and width/2 as the published one runs at 64 and 128. `inputSize` (a multiple of
  /// 64; the four levels of the hourglass halve the heatmap four times) is what the network is
  /// meant to read; the layers themselves take any size.
  public init(modules: Int = 4, width: Int = 256, inputSize: Int = FAN.inputSize) {
    precondition(modules >= 1, "FAN needs at least one hourglass module")
    precondition(width >= 16 && width % 16 == 0, "FAN width must be a positive multiple of 16, got \(width)")
    precondition(inputSize >= 64 && inputSize % 64 == 0, "FAN input size must be a multiple of 64, got \(inputSize)")
    moduleCount = modules
    self.width = width
    self.inputSize = inputSize
    let (quarter, half) = (width / 4, width / 2)
    conv1 = Conv2dLayer(3, quarter, kernel: 7, stride: 2, padding: 3)
    bn1 = BatchNorm2dLayer(quarter)
    conv2 = FANConvBlock(quarter, half)
    conv3 = FANConvBlock(half, half)
    conv4 = FANConvBlock(half, width)
    stacks = (0..<modules).map { i in
      Stack(
        hourglass: FANHourglass(depth: 4, features: width),
        top: FANConvBlock(width, width),
        convLast: Conv2dLayer(width, width, kernel: 1),
        bnEnd: BatchNorm2dLayer(width),
        head: Conv2dLayer(width, FAN.landmarkCount, kernel: 1),
        feedback: i < modules - 1
          ? (Conv2dLayer(width, width, kernel: 1), Conv2dLayer(FAN.landmarkCount, width, kernel: 1)) : nil)
    }
  }

  /// Loads a checkpoint: converted (scripts/convert_checkpoints.py fan) or written by
  /// `write(to:metadata:)`. The number of hourglass modules is read from its names, the width
  /// from the heatmap head's shape, the input size from the metadata's "input_size" (256, the
  /// published network's, when absent).
  public init(checkpoint: SafeTensorsFile) throws {
    var modules = 0
    while checkpoint.contains("l\(modules).weight") { modules += 1 }
    guard modules > 0, let head = checkpoint.entries["l0.weight"]?.shape, head.rank == 4 else {
      throw NetworkCheckpointError.unrecognized(network: "FAN", reason: "no heatmap head 'l0.weight' of rank 4")
    }
    let width = head[1]
    guard width >= 16, width % 16 == 0 else {
      throw NetworkCheckpointError.unrecognized(network: "FAN", reason: "heatmap head 'l0.weight' reads \(width) channels, not a multiple of 16")
    }
    var inputSize = FAN.inputSize
    if let text = checkpoint.metadata["input_size"] {
      guard let size = Int(text), size >= 64, size % 64 == 0 else {
        throw NetworkCheckpointError.unrecognized(network: "FAN", reason: "metadata input_size '\(text)' is not a multiple of 64")
      }
      inputSize = size
    }
    self.init(modules: modules, width: width, inputSize: inputSize)
    try load(from: checkpoint)
  }

  /// What a checkpoint of this network says about it (safetensors metadata): the network, its
  /// shape and input size, plus `extra` (how it was trained).
  public func metadata(_ extra: [String: String] = [:]) -> [String: String] {
    [
      "network": "FAN", "modules": String(moduleCount), "width": String(width),
      "input_size": String(inputSize), "heatmap_size": String(heatmapSize),
      "landmarks": "iBUG-68",
    ].merging(extra) { _, new in new }
  }

  /// Writes the weights (running statistics included) with `metadata(extra)`, so
  /// `init(checkpoint:)` restores the same network.
  public func write(to url: URL, metadata extra: [String: String] = [:]) throws {
    try SafeTensors.write(stateDictionary(), metadata: metadata(extra), to: url)
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

  /// The heatmaps of the last module: [N, 68, S/4, S/4] for a [N, 3, S, S] crop in [0, 1].
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
