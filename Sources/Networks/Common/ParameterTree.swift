import Tensors

/// Composition of named parameters: a network's list is its children's lists under their
/// names, as PyTorch's `state_dict()` nests module names (`conv2.bn1.weight`).
enum ParameterTree {
  static func join(_ children: [(String, any Layer)]) -> [(name: String, parameter: Parameter)] {
    children.flatMap { $0.1.prefixed($0.0) }
  }
}

/// A single tensor that loads by name, such as PReLU's slopes or S3FD's L2Norm scales.
public struct TensorParameter: Layer, Sendable {
  public let parameter: Parameter
  let name: String

  public init(_ name: String, shape: Shape, value: Float = 0) {
    parameter = Parameter(Tensor(repeating: value, shape: shape), requiresGradient: false)
    self.name = name
  }

  public var tensor: Tensor { parameter.tensor }
  public var namedParameters: [(name: String, parameter: Parameter)] { [(name, parameter)] }
}
