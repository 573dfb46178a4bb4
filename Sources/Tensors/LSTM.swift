/// One LSTM layer with PyTorch's parameter names and gate order (input, forget, cell, output),
/// built from the engine's differentiable ops so gradients come for free.
public struct LSTM: Layer, Sendable {
  public let inputSize: Int
  public let hiddenSize: Int
  public let weightIH: Parameter  // [4H, I]
  public let weightHH: Parameter  // [4H, H]
  public let biasIH: Parameter  // [4H]
  public let biasHH: Parameter  // [4H]
  /// The layer index in PyTorch's names (`weight_ih_l0`).
  public let layerIndex: Int

  public init(inputSize: Int, hiddenSize: Int, layerIndex: Int = 0, seed: UInt64 = 0) {
    self.inputSize = inputSize
    self.hiddenSize = hiddenSize
    self.layerIndex = layerIndex
    // PyTorch's default init: U(-1/√H, 1/√H) for every tensor.
    let k = 1 / Float(hiddenSize).squareRoot()
    weightIH = Parameter(.randomUniform([4 * hiddenSize, inputSize], in: -k...k, seed: seed))
    weightHH = Parameter(.randomUniform([4 * hiddenSize, hiddenSize], in: -k...k, seed: seed &+ 1))
    biasIH = Parameter(.randomUniform([4 * hiddenSize], in: -k...k, seed: seed &+ 2))
    biasHH = Parameter(.randomUniform([4 * hiddenSize], in: -k...k, seed: seed &+ 3))
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    [("weight_ih_l\(layerIndex)", weightIH), ("weight_hh_l\(layerIndex)", weightHH),
     ("bias_ih_l\(layerIndex)", biasIH), ("bias_hh_l\(layerIndex)", biasHH)]
  }

  /// Runs over a sequence `[T, B, I]` (PyTorch's default layout) from the state `(h0, c0)`
  /// (each `[B, H]`, zeros when nil). Returns every step's hidden state `[T, B, H]` and the
  /// final `(h, c)`.
  public func callAsFunction(_ input: Tensor, state: (h: Tensor, c: Tensor)? = nil) -> (output: Tensor, h: Tensor, c: Tensor) {
    precondition(input.rank == 3 && input.shape[2] == inputSize, "LSTM input \(input.shape), expected [T, B, \(inputSize)]")
    let steps = input.shape[0], batch = input.shape[1], h = hiddenSize
    var hidden = state?.h ?? Tensor(zeros: [batch, h])
    var cell = state?.c ?? Tensor(zeros: [batch, h])
    let wih = weightIH.tensor, whh = weightHH.tensor
    let bias = biasIH.tensor + biasHH.tensor
    // The input projection of all steps at once: one GEMM instead of T small ones.
    let projected = Tensor.linear(input, weight: wih, bias: bias)  // [T, B, 4H]
    var outputs: [Tensor] = []
    outputs.reserveCapacity(steps)
    for t in 0..<steps {
      let gates = projected.select(axis: 0, t) + Tensor.matmul(hidden, whh, transposeB: true)
      let i = gates.slice(axis: 1, 0..<h).sigmoid()
      let f = gates.slice(axis: 1, h..<(2 * h)).sigmoid()
      let g = gates.slice(axis: 1, (2 * h)..<(3 * h)).tanh()
      let o = gates.slice(axis: 1, (3 * h)..<(4 * h)).sigmoid()
      cell = f * cell + i * g
      hidden = o * cell.tanh()
      outputs.append(hidden)
    }
    return (Tensor.stack(outputs, axis: 0), hidden, cell)
  }
}
