import Tensors

/// The image classifier whose features LPIPS compares.
public enum LPIPSTrunk: String, CaseIterable, Sendable, CustomStringConvertible {
  /// torchvision VGG16 `features`, tapped after relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.
  case vgg
  /// torchvision AlexNet `features`, tapped after each of its five ReLUs.
  case alex

  public var description: String { rawValue }

  /// Channels of the five tapped feature maps (the widths of the linear layers).
  public var channels: [Int] {
    switch self {
    case .vgg: return [64, 128, 256, 512, 512]
    case .alex: return [64, 192, 384, 256, 256]
    }
  }

  /// The modules of torchvision's `features`, by index, split into lpips's five slices.
  var slices: [[(index: Int, module: FeatureModule)]] {
    switch self {
    case .vgg:
      // torchvision's configuration "D": 3×3 convs (padding 1) each followed by a ReLU, and
      // 2×2 max pools (nil) between the stages.
      let plan: [Int?] = [64, 64, nil, 128, 128, nil, 256, 256, 256, nil, 512, 512, 512, nil, 512, 512, 512]
      var modules: [(index: Int, module: FeatureModule)] = []
      var channels = 3
      for width in plan {
        if let width {
          modules.append((modules.count, .conv(Conv2dLayer(channels, width, kernel: 3, padding: 1))))
          modules.append((modules.count, .relu))
          channels = width
        } else {
          modules.append((modules.count, .maxPool(kernel: 2, stride: 2)))
        }
      }
      return [0..<4, 4..<9, 9..<16, 16..<23, 23..<30].map { r in r.map { modules[$0] } }
    case .alex:
      return [
        [(0, .conv(Conv2dLayer(3, 64, kernel: 11, stride: 4, padding: 2))), (1, .relu)],
        [(2, .maxPool(kernel: 3, stride: 2)), (3, .conv(Conv2dLayer(64, 192, kernel: 5, padding: 2))), (4, .relu)],
        [(5, .maxPool(kernel: 3, stride: 2)), (6, .conv(Conv2dLayer(192, 384, kernel: 3, padding: 1))), (7, .relu)],
        [(8, .conv(Conv2dLayer(384, 256, kernel: 3, padding: 1))), (9, .relu)],
        [(10, .conv(Conv2dLayer(256, 256, kernel: 3, padding: 1))), (11, .relu)],
      ]
    }
  }

  /// The trunk a checkpoint holds, told apart by the shape of its first convolution.
  public init?(checkpoint: SafeTensorsFile, prefix: String = "") {
    let key = (prefix.isEmpty ? "" : prefix + ".") + "net.slice1.0.weight"
    switch checkpoint.entries[key]?.shape {
    case [64, 3, 3, 3]?: self = .vgg
    case [64, 3, 11, 11]?: self = .alex
    default: return nil
    }
  }
}

/// One module of a torchvision `features` stack.
enum FeatureModule: Sendable {
  case conv(Conv2dLayer)
  case relu
  case maxPool(kernel: Int, stride: Int)

  func callAsFunction(_ x: Tensor) -> Tensor {
    switch self {
    case let .conv(conv): return conv(x)
    case .relu: return x.reluSavingOutput()
    case let .maxPool(kernel, stride): return x.maxPool2d(kernel: kernel, stride: stride)
    }
  }
}
