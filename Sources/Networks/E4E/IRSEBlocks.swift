import Tensors

/// `SEModule(channels, 16)`: global average, 1×1 conv down, ReLU, 1×1 conv up, sigmoid, scale.
struct SqueezeExcitation: Layer, Sendable {
  let fc1: Conv2dLayer, fc2: Conv2dLayer

  init(_ channels: Int, reduction: Int) {
    fc1 = Conv2dLayer(channels, channels / reduction, kernel: 1, bias: false)
    fc2 = Conv2dLayer(channels / reduction, channels, kernel: 1, bias: false)
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    x * fc2(fc1(x.mean(axes: [2, 3], keepDims: true)).relu()).sigmoid()
  }

  var namedParameters: [(name: String, parameter: Parameter)] { ParameterTree.join([("fc1", fc1), ("fc2", fc2)]) }
}

/// PReLU with one learned slope per channel (`weight`).
struct PReLULayer: Layer, Sendable {
  let weight: Parameter

  init(_ channels: Int) { weight = Parameter(Tensor(repeating: 0.25, shape: [channels]), requiresGradient: false) }

  func callAsFunction(_ x: Tensor) -> Tensor { x.prelu(slope: weight.tensor) }

  var namedParameters: [(name: String, parameter: Parameter)] { [("weight", weight)] }
}

/// encoder4editing's `bottleneck_IR_SE`: `res_layer` = BN, 3×3 conv, PReLU, 3×3 conv (with the
/// stride), BN, SE; plus a shortcut (a strided 1×1 subsampling when the width is kept, else a
/// strided 1×1 conv and BN).
struct BottleneckIRSE: Layer, Sendable {
  let stride: Int
  let shortcut: (conv: Conv2dLayer, bn: BatchNorm2dLayer)?
  let bn0: BatchNorm2dLayer
  let conv1: Conv2dLayer
  let prelu: PReLULayer
  let conv2: Conv2dLayer
  let bn4: BatchNorm2dLayer
  let se: SqueezeExcitation

  init(_ inChannels: Int, _ depth: Int, stride: Int) {
    self.stride = stride
    shortcut = inChannels == depth
      ? nil : (Conv2dLayer(inChannels, depth, kernel: 1, stride: stride, bias: false), BatchNorm2dLayer(depth))
    bn0 = BatchNorm2dLayer(inChannels)
    conv1 = Conv2dLayer(inChannels, depth, kernel: 3, padding: 1, bias: false)
    prelu = PReLULayer(depth)
    conv2 = Conv2dLayer(depth, depth, kernel: 3, stride: stride, padding: 1, bias: false)
    bn4 = BatchNorm2dLayer(depth)
    se = SqueezeExcitation(depth, reduction: 16)
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let residual = se(bn4(conv2(prelu(conv1(bn0(x))))))
    let short: Tensor
    if let shortcut {
      short = shortcut.bn(shortcut.conv(x))
    } else {
      // MaxPool2d(1, stride): every stride-th pixel.
      short = stride == 1 ? x : x.maxPool2d(kernel: 1, stride: stride)
    }
    return residual + short
  }

  var namedParameters: [(name: String, parameter: Parameter)] {
    var children: [(String, any Layer)] = []
    if let shortcut { children += [("shortcut_layer.0", shortcut.conv), ("shortcut_layer.1", shortcut.bn)] }
    children += [("res_layer.0", bn0), ("res_layer.1", conv1), ("res_layer.2", prelu), ("res_layer.3", conv2),
                 ("res_layer.4", bn4), ("res_layer.5", se)]
    return ParameterTree.join(children)
  }
}

/// rosinality's `EqualLinear` without activation: `x · (W · lr_mul/√in)ᵀ + b · lr_mul`.
struct E4EEqualLinear: Layer, Sendable {
  let weight: Parameter, bias: Parameter
  let lrMultiplier: Float

  init(_ inFeatures: Int, _ outFeatures: Int, lrMultiplier: Float = 1) {
    weight = Parameter(Tensor(zeros: [outFeatures, inFeatures]), requiresGradient: false)
    bias = Parameter(Tensor(zeros: [outFeatures]), requiresGradient: false)
    self.lrMultiplier = lrMultiplier
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    let scale = lrMultiplier / Float(weight.shape[1]).squareRoot()
    return Tensor.linear(x, weight: weight.tensor * scale, bias: bias.tensor * lrMultiplier)
  }

  var namedParameters: [(name: String, parameter: Parameter)] { [("weight", weight), ("bias", bias)] }
}

/// `GradualStyleBlock(512, 512, spatial)`: log2(spatial) strided 3×3 convs with LeakyReLU
/// (slope 0.01) down to 1×1, then an EqualLinear: one 512-d style vector per image.
struct GradualStyleBlock: Layer, Sendable {
  let convs: [Conv2dLayer]
  let linear: E4EEqualLinear
  let channels: Int

  init(_ inChannels: Int, _ outChannels: Int, spatial: Int) {
    var pools = 0
    while (1 << (pools + 1)) <= spatial { pools += 1 }
    convs = (0..<pools).map { Conv2dLayer($0 == 0 ? inChannels : outChannels, outChannels, kernel: 3, stride: 2, padding: 1) }
    linear = E4EEqualLinear(outChannels, outChannels)
    channels = outChannels
  }

  func callAsFunction(_ x: Tensor) -> Tensor {
    var h = x
    for conv in convs { h = conv(h).leakyRelu(slope: 0.01) }
    return linear(h.reshaped([-1, channels]))
  }

  var namedParameters: [(name: String, parameter: Parameter)] {
    ParameterTree.join(convs.enumerated().map { ("convs.\(2 * $0.offset)", $0.element) } + [("linear", linear)])
  }
}
