import Media
import Networks
import Tensors

/// LPIPS between two whole frames: each frame is resized so its shorter side is `shortSide`
/// pixels (default 256, the size LPIPS was calibrated on; the longer side keeps the aspect ratio,
/// rounded), bilinearly without antialiasing as PyTorch's `F.interpolate(mode='bilinear',
/// align_corners=False)` does, mapped from [0, 1] to [-1, 1] and given to the network.
public struct PerceptualDistance {
  public let network: LPIPS
  public var shortSide: Int

  public init(network: LPIPS, shortSide: Int = 256) {
    precondition(shortSide >= 16, "PerceptualDistance: shortSide must be at least 16, got \(shortSide)")
    self.network = network
    self.shortSide = shortSide
  }

  /// The size a width × height frame is resized to.
  public func inputSize(width: Int, height: Int) -> (height: Int, width: Int) {
    if width <= height {
      return (max(1, Int((Double(height) * Double(shortSide) / Double(width)).rounded())), shortSide)
    }
    return (shortSide, max(1, Int((Double(width) * Double(shortSide) / Double(height)).rounded())))
  }

  /// The network's input for a frame: [1, 3, h, w] in [-1, 1].
  public func input(_ image: RGBImage) -> Tensor {
    let size = inputSize(width: image.width, height: image.height)
    var t = image.tensor()
    if size.height != image.height || size.width != image.width {
      t = t.resizeBilinear(to: size, alignCorners: false)
    }
    return t * 2 - 1
  }

  /// LPIPS of the pair (0 for identical frames).
  public func callAsFunction(_ x: RGBImage, _ y: RGBImage) -> Double {
    precondition(x.width == y.width && x.height == y.height, "LPIPS of \(x.width)×\(x.height) against \(y.width)×\(y.height)")
    return Double(network.distance(input(x), input(y)).scalars[0])
  }
}
