/// A tensor's float buffer. Immutable once shared: `Tensor` copies it before writing
/// unless it holds the only reference (copy-on-write).
final class TensorStorage: @unchecked Sendable {
  // @unchecked: the buffer is written only while uniquely referenced (see Tensor's mutators)
  // or by the op that created it, before it is published.
  let base: UnsafeMutablePointer<Float>
  let count: Int

  init(count: Int) {
    self.count = count
    base = .allocate(capacity: max(count, 1))
  }

  convenience init(zeros count: Int) {
    self.init(count: count)
    base.initialize(repeating: 0, count: count)
  }

  func copy() -> TensorStorage {
    let c = TensorStorage(count: count)
    c.base.update(from: base, count: count)
    return c
  }

  deinit { base.deallocate() }
}
