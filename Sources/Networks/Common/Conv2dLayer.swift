import Tensors

/// A 2-D convolution under PyTorch's `nn.Conv2d` parameter names (`weight`, optional `bias`).
///
/// Parameters start as zeros and frozen (`requiresGradient == false`): the face networks are
/// loaded from checkpoints and only ever differentiated with respect to their inputs. Set
/// `requiresGradient` on `parameters` to train them.
public struct Conv2dLayer: Layer, Sendable {
  public let weight: Parameter
  public let bias: Parameter?
  public let stride: Int
  public let padding: Int

  public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true) {
    weight = Parameter(Tensor(zeros: [outChannels, inChannels, kernel, kernel]), requiresGradient: false)
    self.bias = bias ? Parameter(Tensor(zeros: [outChannels]), requiresGradient: false) : nil
    self.stride = stride
    self.padding = padding
  }

  public var inChannels: Int { weight.shape[1] }
  public var outChannels: Int { weight.shape[0] }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    let y = Tensor.conv2d(x, weight: weight.tensor, bias: bias?.tensor, stride: stride, padding: padding)
    NetworkProfiling.tally?.record(weight: weight.shape, output: y.shape)
    return y
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }
}
