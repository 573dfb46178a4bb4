import Foundation

/// A float32 tensor: row-major (NCHW for images), contiguous, copy-on-write.
///
/// A tensor that requires a gradient carries a node of the autodiff graph; ops on it record
/// how to propagate gradients back. Tensors without one build no graph at all.
public struct Tensor: Sendable {
  public let shape: Shape
  var storage: TensorStorage
  var node: GradNode?

  init(shape: Shape, storage: TensorStorage, node: GradNode? = nil) {
    precondition(storage.count == shape.count, "storage of \(storage.count) for shape \(shape)")
    self.shape = shape
    self.storage = storage
    self.node = node
  }

  /// A tensor whose contents the caller fills before publishing it.
  init(uninitialized shape: Shape) {
    self.init(shape: shape, storage: TensorStorage(count: shape.count))
  }

  public init(zeros shape: Shape) {
    self.init(shape: shape, storage: TensorStorage(zeros: shape.count))
  }

  public init(ones shape: Shape) { self.init(repeating: 1, shape: shape) }

  public init(repeating value: Float, shape: Shape) {
    self.init(uninitialized: shape)
    storage.base.initialize(repeating: value, count: shape.count)
  }

  public init(_ scalars: [Float], shape: Shape) {
    precondition(scalars.count == shape.count, "\(scalars.count) values for shape \(shape)")
    self.init(uninitialized: shape)
    scalars.withUnsafeBufferPointer { storage.base.update(from: $0.baseAddress!, count: scalars.count) }
  }

  public init(scalar: Float) { self.init([scalar], shape: []) }

  /// Builds a tensor by writing its contents through a buffer.
  public init(shape: Shape, initializer: (UnsafeMutableBufferPointer<Float>) throws -> Void) rethrows {
    self.init(zeros: shape)
    try initializer(UnsafeMutableBufferPointer(start: storage.base, count: shape.count))
  }

  public var rank: Int { shape.rank }
  public var count: Int { shape.count }
  public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.base, count: count)) }

  /// The single value of a one-element tensor.
  public func item() -> Float {
    precondition(count == 1, "item() of a tensor of shape \(shape)")
    return storage.base[0]
  }

  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    try body(UnsafeBufferPointer(start: storage.base, count: count))
  }

  /// Writes in place; copies first if the storage is shared. Writing detaches the tensor from
  /// the autodiff graph, since the recorded history no longer describes its contents.
  public mutating func withUnsafeMutableBufferPointer<R>(
    _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    node = nil
    return try body(UnsafeMutableBufferPointer(start: storage.base, count: count))
  }

  /// Element at a multi-dimensional index (slow; for tests and small tensors).
  public subscript(index: Int...) -> Float {
    get { storage.base[flatIndex(index)] }
    set {
      let i = flatIndex(index)
      withUnsafeMutableBufferPointer { $0[i] = newValue }
    }
  }

  private func flatIndex(_ index: [Int]) -> Int {
    precondition(index.count == rank, "index \(index) for shape \(shape)")
    var flat = 0
    for (i, d) in zip(index, shape.dims) {
      precondition(i >= 0 && i < d, "index \(index) out of range for shape \(shape)")
      flat = flat * d + i
    }
    return flat
  }

  // MARK: Autodiff handles

  /// True when this tensor is part of an autodiff graph.
  public var requiresGradient: Bool { node != nil }

  /// The same values as a new leaf of an autodiff graph, so gradients can be taken with respect to it.
  public func requiringGradient() -> Tensor {
    Tensor(shape: shape, storage: storage, node: GradNode(leafOf: shape, parameter: nil))
  }

  /// The same values without autodiff history.
  public func detached() -> Tensor { Tensor(shape: shape, storage: storage) }
}

extension Tensor: CustomStringConvertible {
  public var description: String {
    let shown = scalars.prefix(8).map { String(format: "%.5g", Double($0)) }.joined(separator: ", ")
    return "Tensor(\(shape): [\(shown)\(count > 8 ? ", ..." : "")])"
  }
}

extension Tensor {
  /// A view of the same storage with another shape of equal element count (a reshape of a
  /// contiguous tensor is free).
  func sharingStorage(shape newShape: Shape) -> Tensor {
    Tensor(shape: newShape, storage: storage)
  }

  @inline(__always) var base: UnsafeMutablePointer<Float> { storage.base }
}
