// Views and rearrangements. A reshape shares storage; everything else copies into a new
// contiguous tensor (tensors are always contiguous).

extension Tensor {
  /// The same elements in another shape.
  public func reshaped(_ newShape: Shape) -> Tensor { reshaped(newShape.dims) }

  /// The same elements in another shape; one dim may be -1 (inferred from the count).
  public func reshaped(_ newDims: [Int]) -> Tensor {
    var dims = newDims
    if let i = dims.firstIndex(of: -1) {
      let known = dims.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
      precondition(known > 0 && count % known == 0, "cannot reshape \(shape) to \(newDims)")
      dims[i] = count / known
    }
    let target = Shape(dims)
    precondition(target.count == count, "cannot reshape \(shape) (\(count) elements) to \(newDims)")
    if target == shape { return self }
    let inputShape = shape
    return Tensor.record(sharingStorage(shape: target), input: self) { g in g.reshaped(inputShape) }
  }

  public func reshaped(_ dims: Int...) -> Tensor { reshaped(dims) }

  /// Collapses dims `from...` into one: `[N, C, H, W].flattened(from: 1)` is `[N, C*H*W]`.
  public func flattened(from axis: Int = 0) -> Tensor {
    let a = shape.normalizedAxis(axis)
    return reshaped(Shape(Array(shape.dims[..<a]) + [shape.dims[a...].reduce(1, *)]))
  }

  /// Inserts a size-1 dim at `axis`.
  public func unsqueezed(at axis: Int) -> Tensor {
    var dims = shape.dims
    let a = axis < 0 ? axis + rank + 1 : axis
    dims.insert(1, at: a)
    return reshaped(Shape(dims))
  }

  /// Reorders dims: result dim `i` is input dim `order[i]`.
  public func permuted(_ order: [Int]) -> Tensor {
    precondition(order.sorted() == Array(0..<rank), "permutation \(order) for rank \(rank)")
    if order == Array(0..<rank) { return self }
    let outShape = Shape(order.map { shape.dims[$0] })
    let inStrides = shape.strides
    let out = Tensor(uninitialized: outShape)
    let layout = StridedLayout(dims: outShape.dims, strides: [order.map { inStrides[$0] }, outShape.strides])
    let n = layout.innerCount
    let s = layout.strides[0].last!
    let pin = base, pout = out.base
    Parallel.forRanges(layout.outerCount, grain: Swift.max(1, 16_384 / n)) { rows in
      for row in rows {
        let src = pin + layout.offset(ofRow: row, operand: 0)
        let dst = pout + layout.offset(ofRow: row, operand: 1)
        if s == 1 {
          dst.update(from: src, count: n)
        } else {
          for j in 0..<n { dst[j] = src[j * s] }
        }
      }
    }
    var inverse = [Int](repeating: 0, count: rank)
    for (i, o) in order.enumerated() { inverse[o] = i }
    return Tensor.record(out, input: self) { g in g.permuted(inverse) }
  }

  /// Swaps two dims (the last two by default: a matrix transpose).
  public func transposed(_ a: Int = -2, _ b: Int = -1) -> Tensor {
    var order = Array(0..<rank)
    order.swapAt(shape.normalizedAxis(a), shape.normalizedAxis(b))
    return permuted(order)
  }

  /// Elements `range` along `axis`.
  public func slice(axis: Int, _ range: Range<Int>) -> Tensor {
    let a = shape.normalizedAxis(axis)
    precondition(range.lowerBound >= 0 && range.upperBound <= shape.dims[a], "slice \(range) of dim \(a) of \(shape)")
    var dims = shape.dims
    dims[a] = range.count
    let outShape = Shape(dims)
    let outer = shape.dims[..<a].reduce(1, *)
    let inner = shape.dims[(a + 1)...].reduce(1, *)
    let out = Tensor(uninitialized: outShape)
    let inRow = shape.dims[a] * inner, outRow = range.count * inner
    let pin = base + range.lowerBound * inner, pout = out.base
    for o in 0..<outer { (pout + o * outRow).update(from: pin + o * inRow, count: outRow) }
    let inputShape = shape
    return Tensor.record(out, input: self) { g in
      let full = Tensor(zeros: inputShape)
      let pg = g.base, pf = full.base + range.lowerBound * inner
      for o in 0..<outer { (pf + o * inRow).update(from: pg + o * outRow, count: outRow) }
      return full
    }
  }

  /// Element `index` along `axis`, with that axis removed.
  public func select(axis: Int, _ index: Int) -> Tensor {
    let a = shape.normalizedAxis(axis)
    var dims = shape.dims
    dims.remove(at: a)
    return slice(axis: a, index..<(index + 1)).reshaped(Shape(dims))
  }

  /// Joins tensors along `axis`; all other dims must agree.
  public static func concat(_ parts: [Tensor], axis: Int) -> Tensor {
    precondition(!parts.isEmpty, "concat of no tensors")
    let first = parts[0].shape
    let a = first.normalizedAxis(axis)
    for p in parts {
      precondition(p.rank == first.rank && (0..<first.rank).allSatisfy { $0 == a || p.shape.dims[$0] == first.dims[$0] },
                   "concat along \(a): shapes \(parts.map(\.shape))")
    }
    var dims = first.dims
    dims[a] = parts.map { $0.shape.dims[a] }.reduce(0, +)
    let outShape = Shape(dims)
    let outer = first.dims[..<a].reduce(1, *)
    let inner = first.dims[(a + 1)...].reduce(1, *)
    let out = Tensor(uninitialized: outShape)
    let outRow = dims[a] * inner
    var start = 0
    var offsets: [Int] = []
    for p in parts {
      offsets.append(start)
      let row = p.shape.dims[a] * inner
      for o in 0..<outer { (out.base + o * outRow + start * inner).update(from: p.base + o * row, count: row) }
      start += p.shape.dims[a]
    }
    let sizes = parts.map { $0.shape.dims[a] }
    return record(out, inputs: parts) { g in
      zip(offsets, sizes).map { off, size in g.slice(axis: a, off..<(off + size)) }
    }
  }

  /// Stacks same-shaped tensors along a new axis.
  public static func stack(_ parts: [Tensor], axis: Int = 0) -> Tensor {
    concat(parts.map { $0.unsqueezed(at: axis) }, axis: axis)
  }

  /// Rows `indices` of the first axis, in that order (repeats allowed).
  public func gatherRows(_ indices: [Int]) -> Tensor {
    let rowCount = shape.dims[0]
    let inner = count / Swift.max(rowCount, 1)
    var dims = shape.dims
    dims[0] = indices.count
    let out = Tensor(uninitialized: Shape(dims))
    for (i, r) in indices.enumerated() {
      precondition(r >= 0 && r < rowCount, "row \(r) of \(rowCount)")
      (out.base + i * inner).update(from: base + r * inner, count: inner)
    }
    let inputShape = shape
    return Tensor.record(out, input: self) { g in
      let full = Tensor(zeros: inputShape)
      for (i, r) in indices.enumerated() {
        let src = g.base + i * inner, dst = full.base + r * inner
        for j in 0..<inner { dst[j] += src[j] }
      }
      return full
    }
  }
}
