/// The dimensions of a tensor, outermost first (NCHW for images).
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
  public var dims: [Int]

  public init(_ dims: [Int]) {
    precondition(dims.allSatisfy { $0 >= 0 }, "negative dimension in shape \(dims)")
    self.dims = dims
  }

  public init(arrayLiteral elements: Int...) { self.init(elements) }

  public var rank: Int { dims.count }
  public var count: Int { dims.reduce(1, *) }

  /// Dimension `i`; negative `i` counts from the end (-1 is the last dimension).
  public subscript(i: Int) -> Int {
    get { dims[normalizedAxis(i)] }
    set { dims[normalizedAxis(i)] = newValue }
  }

  /// Row-major strides, in elements.
  public var strides: [Int] {
    var strides = [Int](repeating: 1, count: dims.count)
    var step = 1
    for i in stride(from: dims.count - 1, through: 0, by: -1) {
      strides[i] = step
      step *= dims[i]
    }
    return strides
  }

  /// Maps a possibly negative axis into `0..<rank`.
  public func normalizedAxis(_ axis: Int) -> Int {
    let a = axis < 0 ? axis + dims.count : axis
    precondition(a >= 0 && a < dims.count, "axis \(axis) out of range for shape \(self)")
    return a
  }

  public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }

  /// The NumPy broadcast of two shapes, or nil when they are incompatible.
  public static func broadcast(_ a: Shape, _ b: Shape) -> Shape? {
    let rank = max(a.rank, b.rank)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
      let da = i < rank - a.rank ? 1 : a.dims[i - (rank - a.rank)]
      let db = i < rank - b.rank ? 1 : b.dims[i - (rank - b.rank)]
      if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return Shape(out)
  }
}
