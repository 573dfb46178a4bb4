/// A trainable (or frozen) tensor owned by a network, with the gradient `backward()` adds up.
/// Reference semantics: the network, the optimizer and the graph all refer to one parameter.
public final class Parameter: @unchecked Sendable {
  // @unchecked: a parameter belongs to one training loop at a time; it is not shared across
  // concurrent tasks.
  public var value: Tensor
  public var gradient: Tensor?
  /// A frozen parameter (or a buffer such as BatchNorm's running mean) builds no graph.
  public var requiresGradient: Bool

  public init(_ value: Tensor, requiresGradient: Bool = true) {
    self.value = value.detached()
    self.requiresGradient = requiresGradient
  }

  /// The value to compute with: a graph leaf tied to this parameter when it is trainable.
  public var tensor: Tensor {
    guard requiresGradient else { return value }
    return Tensor(shape: value.shape, storage: value.storage, node: GradNode(leafOf: value.shape, parameter: self))
  }

  public var shape: Shape { value.shape }

  func accumulateGradient(_ g: Tensor) {
    gradient = gradient.map { $0 + g } ?? g.detached()
  }

  public func zeroGradient() { gradient = nil }
}
