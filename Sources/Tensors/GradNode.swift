/// One node of the autodiff graph: the op that produced a tensor, its inputs' nodes, and how
/// to turn the gradient of its output into gradients of its inputs. Immutable after creation.
final class GradNode: @unchecked Sendable {
  // @unchecked: every stored property is a `let`; the backward closure only reads the tensors
  // it captured, which are themselves immutable values.
  typealias Backward = (Tensor) -> [Tensor?]

  let shape: Shape
  // `var` only so that deinit can take the inputs apart without recursion.
  private(set) var inputs: [GradNode?]
  let backward: Backward?
  /// For leaves made from a `Parameter`: where `backward()` accumulates the gradient.
  let parameter: Parameter?

  init(leafOf shape: Shape, parameter: Parameter?) {
    self.shape = shape
    self.inputs = []
    self.backward = nil
    self.parameter = parameter
  }

  init(shape: Shape, inputs: [GradNode?], backward: @escaping Backward) {
    self.shape = shape
    self.inputs = inputs
    self.backward = backward
    self.parameter = nil
  }

  // Releasing the head of a long chain (a 300-step optimization, a long LSTM) would otherwise
  // free node after node recursively and overflow the stack: free them in a loop instead.
  deinit {
    var pending = inputs.compactMap { $0 }
    inputs = []
    while var node = pending.popLast() {
      if isKnownUniquelyReferenced(&node) {
        pending.append(contentsOf: node.inputs.compactMap { $0 })
        node.inputs = []
      }
    }
  }
}

extension Tensor {
  /// Records `value` as the result of an op on `inputs`. When no input requires a gradient
  /// the graph is not built and `backward` is never kept.
  static func record(_ value: Tensor, inputs: [Tensor], backward: @escaping GradNode.Backward) -> Tensor {
    guard inputs.contains(where: { $0.node != nil }) else { return value }
    var out = value
    out.node = GradNode(shape: value.shape, inputs: inputs.map(\.node), backward: backward)
    return out
  }

  static func record(_ value: Tensor, input: Tensor, backward: @escaping (Tensor) -> Tensor) -> Tensor {
    guard input.node != nil else { return value }
    var out = value
    out.node = GradNode(shape: value.shape, inputs: [input.node], backward: { [backward($0)] })
    return out
  }
}

/// Reverse-mode differentiation over the graph below `output`.
enum Autodiff {
  /// Nodes reachable from `root` in topological order (inputs before users).
  static func topologicalOrder(from root: GradNode) -> [GradNode] {
    var order: [GradNode] = []
    var visited = Set<ObjectIdentifier>()
    // Iterative DFS: deep graphs (300-step unrolls, long LSTMs) must not overflow the stack.
    var stack: [(GradNode, Int)] = [(root, 0)]
    visited.insert(ObjectIdentifier(root))
    while let (node, next) = stack.popLast() {
      if next < node.inputs.count {
        stack.append((node, next + 1))
        if let child = node.inputs[next], visited.insert(ObjectIdentifier(child)).inserted {
          stack.append((child, 0))
        }
      } else {
        order.append(node)
      }
    }
    return order
  }

  /// Propagates `seed` (the gradient of `output`) through the graph; calls `visit` once per
  /// node with its total gradient, before passing it on to the node's inputs.
  static func propagate(from output: GradNode, seed: Tensor, visit: (GradNode, Tensor) -> Void) {
    let order = topologicalOrder(from: output)
    var grads: [ObjectIdentifier: Tensor] = [ObjectIdentifier(output): seed]
    for node in order.reversed() {
      guard let grad = grads.removeValue(forKey: ObjectIdentifier(node)) else { continue }
      visit(node, grad)
      guard let backward = node.backward else { continue }
      let inputGrads = backward(grad)
      for (input, g) in zip(node.inputs, inputGrads) {
        guard let input, let g else { continue }
        precondition(g.shape == input.shape, "gradient shape \(g.shape) for input of shape \(input.shape)")
        let key = ObjectIdentifier(input)
        if let existing = grads[key] {
          grads[key] = existing.detached() + g.detached()
        } else {
          grads[key] = g.detached()
        }
      }
    }
  }
}

/// Gradients of a scalar `output` with respect to each tensor in `inputs` (each made with
/// `requiringGradient()` or taken from a `Parameter`). An input that does not influence the
/// output gets zeros. Parameters' stored gradients are not touched.
public func gradients(of output: Tensor, wrt inputs: [Tensor], seed: Tensor? = nil) -> [Tensor] {
  let seed = seed ?? Tensor(ones: output.shape)
  precondition(seed.shape == output.shape, "seed \(seed.shape) for output \(output.shape)")
  guard let root = output.node else { return inputs.map { Tensor(zeros: $0.shape) } }
  var found: [ObjectIdentifier: Tensor] = [:]
  let wanted = Set(inputs.compactMap { $0.node.map(ObjectIdentifier.init) })
  Autodiff.propagate(from: root, seed: seed) { node, grad in
    if wanted.contains(ObjectIdentifier(node)) { found[ObjectIdentifier(node)] = grad }
  }
  return inputs.map { input in
    input.node.flatMap { found[ObjectIdentifier($0)] } ?? Tensor(zeros: input.shape)
  }
}

extension Tensor {
  /// Back-propagates from this scalar and adds the gradient into every `Parameter` it reaches.
  public func backward() {
    precondition(count == 1, "backward() needs a scalar; this tensor has shape \(shape)")
    guard let root = node else { return }
    Autodiff.propagate(from: root, seed: Tensor(ones: shape)) { node, grad in
      node.parameter?.accumulateGradient(grad)
    }
  }
}
