import Tensors

/// PyTorch's `nn.Linear` (`weight` [out, in], `bias` [out]) with its default initialization,
/// U(−1/√in, 1/√in), from a seed so that a network is the same on every run. Trainable.
public struct LinearLayer: Layer, Sendable {
  public let weight: Parameter
  public let bias: Parameter?

  public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, seed: UInt64) {
    let k = 1 / Float(inFeatures).squareRoot()
    weight = Parameter(.randomUniform([outFeatures, inFeatures], in: -k...k, seed: seed))
    self.bias = bias ? Parameter(.randomUniform([outFeatures], in: -k...k, seed: seed &+ 1)) : nil
  }

  public func callAsFunction(_ x: Tensor) -> Tensor { Tensor.linear(x, weight: weight.tensor, bias: bias?.tensor) }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
  }
}

/// Linear layers with ReLU between them (none after the last), named `layers.0`, `layers.1`, ...
public struct MultilayerPerceptron: Layer, Sendable {
  public let layers: [LinearLayer]

  /// `widths` = [in, hidden..., out].
  public init(_ widths: [Int], seed: UInt64) {
    precondition(widths.count >= 2, "MultilayerPerceptron needs an input and an output width")
    layers = (0..<(widths.count - 1)).map { LinearLayer(widths[$0], widths[$0 + 1], seed: seed &+ UInt64(2 * $0)) }
  }

  public func callAsFunction(_ x: Tensor) -> Tensor {
    var y = x
    for (i, layer) in layers.enumerated() {
      y = layer(y)
      if i < layers.count - 1 { y = y.relu() }
    }
    return y
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    ParameterTree.join(layers.enumerated().map { ("layers.\($0.offset)", $0.element) })
  }
}

/// Scaled dot-product cross-attention with learned projections:
/// softmax(Q Kᵀ / √t) V with Q = queries·W_Qᵀ, K = keys·W_Kᵀ, V = keys·W_Vᵀ.
public struct CrossAttention: Layer, Sendable {
  public let query: LinearLayer
  public let key: LinearLayer
  public let value: LinearLayer
  public let width: Int

  public init(width: Int, seed: UInt64) {
    self.width = width
    query = LinearLayer(width, width, bias: false, seed: seed)
    key = LinearLayer(width, width, bias: false, seed: seed &+ 2)
    value = LinearLayer(width, width, bias: false, seed: seed &+ 4)
  }

  /// queries [B, Nq, t], keys [B, Nk, t] → [B, Nq, t].
  public func callAsFunction(queries: Tensor, keys: Tensor) -> Tensor {
    precondition(queries.rank == 3 && keys.rank == 3 && queries.shape[2] == width && keys.shape[2] == width,
                 "CrossAttention: queries \(queries.shape), keys \(keys.shape), width \(width)")
    let q = query(queries), k = key(keys), v = value(keys)
    let weights = (Tensor.matmul(q, k, transposeB: true) * (1 / Float(width).squareRoot())).softmax(axis: -1)
    return Tensor.matmul(weights, v)
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    ParameterTree.join([("w_q", query), ("w_k", key), ("w_v", value)])
  }
}
