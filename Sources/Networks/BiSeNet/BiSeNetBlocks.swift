import Tensors

/// face-parsing.PyTorch's `ConvBNReLU`: conv (no bias), batch norm, ReLU.
struct ConvBNReLU: Layer, Sendable {
  let conv: Conv2dLayer
  let bn: BatchNorm2dLayer

  init(_ inChannels: Int, _ outChannels: Int, kernel: Int = 3, stride: Int = 1, padding: Int = 1) {
    conv = Conv2dLayer(inChannels, outChannels, kernel: kernel, stride: stride, padding: padding, bias: false)
    bn = BatchNorm2dLayer(outChannels)
  }

  func callAsFunction(_ x: Tensor) -> Tensor { bn(conv(x), relu: true) }

  var namedParameters: [(name: String, parameter: Parameter)] { ParameterTree.join([("conv", conv), ("bn", bn)]) }
}

/// ResNet-18's `BasicBlock` as face-parsing.PyTorch writes it (a 1×1 conv + BN shortcut when
/// the shape changes).
struct BiSeNetBasicBlock: Layer, Sendable {
  let conv1: Conv2dLayer, bn1: BatchNorm2dLayer
  let conv2: Conv2dLayer, bn2: BatchNorm2dLayer
  let downsample: (conv: Conv2dLayer, bn: BatchNorm2dLayer)?

  init(_ inChannels: Int, _ outChannels: Int, stride: Int) {
    conv1 = Conv2dLayer(inChannels, outChannels, kernel: 3, stride: stride, padding: 1, bias: false)
    bn1 = BatchNorm2dLayer(outChannels)
    conv2 = Conv2dLayer(outChannels, outChannels, kernel: 3, padding: 1, bias: false)
    bn2 = BatchNorm2dLayer(outChannels)
    downsample = inChannels != outChannels || stride != 1
      ? (Conv2dLayer(inChannels, outChannels, kernel: 1, stride: stride, bias: false), BatchNorm2dLayer(outChannels)) : nil
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let residual = bn2(conv2(bn1(conv1(x), relu: true)))
    let shortcut = downsample.map { $0.bn($0.conv(x)) } ?? x
    return (shortcut + residual).relu()
  }

  var namedParameters: [(name: String, parameter: Parameter)] {
    var children: [(String, any Layer)] = [("conv1", conv1), ("bn1", bn1), ("conv2", conv2), ("bn2", bn2)]
    if let downsample { children += [("downsample.0", downsample.conv), ("downsample.1", downsample.bn)] }
    return ParameterTree.join(children)
  }
}

/// The ResNet-18 trunk of the context path (no classifier): features at 1/8, 1/16 and 1/32.
struct BiSeNetResNet18: Layer, Sendable {
  let conv1: Conv2dLayer
  let bn1: BatchNorm2dLayer
  let layers: [[BiSeNetBasicBlock]]

  /// `width` 64 is ResNet-18 (stages 64, 128, 256, 512).
  init(width w: Int = 64) {
    conv1 = Conv2dLayer(3, w, kernel: 7, stride: 2, padding: 3, bias: false)
    bn1 = BatchNorm2dLayer(w)
    layers = [(w, w, 1), (w, 2 * w, 2), (2 * w, 4 * w, 2), (4 * w, 8 * w, 2)].map { i, o, s in
      [BiSeNetBasicBlock(i, o, stride: s), BiSeNetBasicBlock(o, o, stride: 1)]
    }
  }

  func callAsFunction(_ x: Tensor) -> (feat8: Tensor, feat16: Tensor, feat32: Tensor) {
    var h = bn1(conv1(x), relu: true).maxPool2d(kernel: 3, stride: 2, padding: 1)
    var features: [Tensor] = []
    for layer in layers {
      for block in layer { h = block(h) }
      features.append(h)
    }
    return (features[1], features[2], features[3])
  }

  var namedParameters: [(name: String, parameter: Parameter)] {
    var children: [(String, any Layer)] = [("conv1", conv1), ("bn1", bn1)]
    for (i, layer) in layers.enumerated() {
      for (j, block) in layer.enumerated() { children.append(("layer\(i + 1).\(j)", block)) }
    }
    return ParameterTree.join(children)
  }
}

/// `AttentionRefinementModule`: a ConvBNReLU whose output is scaled per channel by a sigmoid
/// attention from its global average.
struct AttentionRefinement: Layer, Sendable {
  let conv: ConvBNReLU
  let convAttention: Conv2dLayer
  let bnAttention: BatchNorm2dLayer

  init(_ inChannels: Int, _ outChannels: Int) {
    conv = ConvBNReLU(inChannels, outChannels)
    convAttention = Conv2dLayer(outChannels, outChannels, kernel: 1, bias: false)
    bnAttention = BatchNorm2dLayer(outChannels)
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let feature = conv(x)
    let attention = bnAttention(convAttention(feature.mean(axes: [2, 3], keepDims: true))).sigmoid()
    return feature * attention
  }

  var namedParameters: [(name: String, parameter: Parameter)] {
    ParameterTree.join([("conv", conv), ("conv_atten", convAttention), ("bn_atten", bnAttention)])
  }
}

/// `FeatureFusionModule`: concatenation, ConvBNReLU, and a squeeze-excitation style attention
/// added back (`feat · atten + feat`).
struct FeatureFusion: Layer, Sendable {
  let convBlock: ConvBNReLU
  let conv1: Conv2dLayer, conv2: Conv2dLayer

  init(_ inChannels: Int, _ outChannels: Int) {
    convBlock = ConvBNReLU(inChannels, outChannels, kernel: 1, padding: 0)
    conv1 = Conv2dLayer(outChannels, outChannels / 4, kernel: 1, bias: false)
    conv2 = Conv2dLayer(outChannels / 4, outChannels, kernel: 1, bias: false)
  }

  func callAsFunction(_ spatial: Tensor, _ context: Tensor) -> Tensor {
    let feature = convBlock(Tensor.concat([spatial, context], axis: 1))
    let attention = conv2(conv1(feature.mean(axes: [2, 3], keepDims: true)).relu()).sigmoid()
    return feature * attention + feature
  }

  var namedParameters: [(name: String, parameter: Parameter)] {
    ParameterTree.join([("convblk", convBlock), ("conv1", conv1), ("conv2", conv2)])
  }
}

/// `BiSeNetOutput`: ConvBNReLU then a 1×1 conv to the class logits.
struct BiSeNetHead: Layer, Sendable {
  let conv: ConvBNReLU
  let convOut: Conv2dLayer

  init(_ inChannels: Int, _ midChannels: Int, classes: Int) {
    conv = ConvBNReLU(inChannels, midChannels)
    convOut = Conv2dLayer(midChannels, classes, kernel: 1, bias: false)
  }

  func callAsFunction(_ x: Tensor) -> Tensor { convOut(conv(x)) }

  var namedParameters: [(name: String, parameter: Parameter)] {
    ParameterTree.join([("conv", conv), ("conv_out", convOut)])
  }
}
