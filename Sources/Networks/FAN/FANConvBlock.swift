import Tensors

/// face-alignment's `ConvBlock`: three pre-activated 3×3 convs (out/2, out/4, out/4 channels)
/// whose outputs are concatenated, plus the input (through BN, ReLU and a 1×1 conv when the
/// width changes).
struct FANConvBlock: Layer, Sendable {
  let bn1: BatchNorm2dLayer, conv1: Conv2dLayer
  let bn2: BatchNorm2dLayer, conv2: Conv2dLayer
  let bn3: BatchNorm2dLayer, conv3: Conv2dLayer
  /// `downsample.0` (BatchNorm) and `downsample.2` (1×1 conv); index 1 is the ReLU.
  let downsample: (bn: BatchNorm2dLayer, conv: Conv2dLayer)?

  init(_ inPlanes: Int, _ outPlanes: Int) {
    bn1 = BatchNorm2dLayer(inPlanes)
    conv1 = Conv2dLayer(inPlanes, outPlanes / 2, kernel: 3, padding: 1, bias: false)
    bn2 = BatchNorm2dLayer(outPlanes / 2)
    conv2 = Conv2dLayer(outPlanes / 2, outPlanes / 4, kernel: 3, padding: 1, bias: false)
    bn3 = BatchNorm2dLayer(outPlanes / 4)
    conv3 = Conv2dLayer(outPlanes / 4, outPlanes / 4, kernel: 3, padding: 1, bias: false)
    downsample = inPlanes == outPlanes
      ? nil : (BatchNorm2dLayer(inPlanes), Conv2dLayer(inPlanes, outPlanes, kernel: 1, bias: false))
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let out1 = conv1(bn1(x, relu: true))
    let out2 = conv2(bn2(out1, relu: true))
    let out3 = conv3(bn3(out2, relu: true))
    let residual = downsample.map { $0.conv($0.bn(x, relu: true)) } ?? x
    return Tensor.concat([out1, out2, out3], axis: 1) + residual
  }

  var namedParameters: [(name: String, parameter: Parameter)] {
    var children: [(String, any Layer)] = [
      ("bn1", bn1), ("conv1", conv1), ("bn2", bn2), ("conv2", conv2), ("bn3", bn3), ("conv3", conv3),
    ]
    if let downsample { children += [("downsample.0", downsample.bn), ("downsample.2", downsample.conv)] }
    return ParameterTree.join(children)
  }
}

/// face-alignment's `HourGlass(1, depth, features)`: at each level an upper branch at full
/// resolution and a lower branch through a 2×2 average pool, the next level, and a nearest 2×
/// upsampling, added together.
struct FANHourglass: Layer, Sendable {
  let depth: Int
  /// `b1_{level}`, `b2_{level}`, `b3_{level}` for levels depth…1, and `b2_plus_1`.
  let blocks: [String: FANConvBlock]

  init(depth: Int, features: Int) {
    self.depth = depth
    var blocks: [String: FANConvBlock] = [:]
    for level in 1...depth {
      for name in ["b1_", "b2_", "b3_"] { blocks[name + String(level)] = FANConvBlock(features, features) }
    }
    blocks["b2_plus_1"] = FANConvBlock(features, features)
    self.blocks = blocks
  }

  private func block(_ name: String) -> FANConvBlock {
    guard let block = blocks[name] else { preconditionFailure("FAN hourglass has no block \(name)") }
    return block
  }

  private func forward(level: Int, _ x: Tensor) -> Tensor {
    let up1 = block("b1_\(level)")(x)
    let low1 = block("b2_\(level)")(x.avgPool2d(kernel: 2, stride: 2))
    let low2 = level > 1 ? forward(level: level - 1, low1) : block("b2_plus_1")(low1)
    let low3 = block("b3_\(level)")(low2)
    return up1 + low3.resizeNearest(to: (low3.shape[2] * 2, low3.shape[3] * 2))
  }

  func callAsFunction(_ x: Tensor) -> Tensor { forward(level: depth, x) }

  var namedParameters: [(name: String, parameter: Parameter)] {
    ParameterTree.join(blocks.keys.sorted().map { ($0, block($0)) })
  }
}
