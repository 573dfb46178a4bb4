import Foundation
import Synchronization

/// A tensor's float buffer. Immutable once shared: `Tensor` copies it before writing
/// unless it holds the only reference (copy-on-write).
final class TensorStorage: @unchecked Sendable {
  // @unchecked: the buffer is written only while uniquely referenced (see Tensor's mutators)
  // or by the op that created it, before it is published.
  let base: UnsafeMutablePointer<Float>
  let count: Int

  init(count: Int) {
    self.count = count
    base = BufferPool.allocate(count)
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

  deinit { BufferPool.release(base, count: count) }
}

/// Keeps freed large buffers for reuse. A network's forward and backward passes allocate and
/// free tensors of the same few sizes over and over; fresh large allocations come from mmap,
/// so every one of them costs a page fault and a kernel page clear per 4 KB on first touch
/// (a quarter of StyleGAN2's run time before this pool). Reused buffers are already resident.
enum BufferPool {
  /// Buffers below this many floats go straight to malloc, whose bins already recycle them.
  static let minPooledFloats = 1 << 16
  /// The most bytes kept idle in the pool; beyond that, freed buffers go back to the system.
  /// `REDUB_TENSOR_POOL_MB` overrides it (0 turns the pool off).
  static let capacityBytes: Int = {
    if let text = ProcessInfo.processInfo.environment["REDUB_TENSOR_POOL_MB"], let mb = Int(text), mb >= 0 {
      return mb << 20
    }
    // 2 GiB, or an eighth of the machine's memory when that is less.
    return Swift.min(2 << 30, Int(ProcessInfo.processInfo.physicalMemory / 8))
  }()

  private struct State {
    var idle: [Int: [UInt]] = [:]  // addresses, by size class (pointers are not Sendable)
    var idleBytes = 0
    /// Buffers handed out for a smaller size class than their own, with their real class.
    var lent: [UInt: Int] = [:]
  }

  // The pointers are only handed from one owner to the next under the lock.
  private static let state = Mutex(State())

  /// Size classes: 8 per octave, so a reused buffer wastes at most 1/8 of its size.
  @inline(__always) static func sizeClass(_ count: Int) -> Int {
    let shift = Swift.max(0, (Int.bitWidth - 1 - count.leadingZeroBitCount) - 3)
    return ((count + (1 << shift) - 1) >> shift) << shift
  }

  static func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
    if count < minPooledFloats || capacityBytes == 0 { return .allocate(capacity: Swift.max(count, 1)) }
    let size = sizeClass(count)
    // Best fit among idle buffers up to twice the size: an idle buffer is resident anyway, so
    // lending a larger one costs no memory, while a fresh allocation would.
    let reused = state.withLock { s -> UInt? in
      guard let fit = s.idle.keys.filter({ $0 >= size && $0 <= 2 * size }).min(),
            let p = s.idle[fit]?.popLast() else { return nil }
      if s.idle[fit]!.isEmpty { s.idle[fit] = nil }
      s.idleBytes -= fit * MemoryLayout<Float>.stride
      if fit != size { s.lent[p] = fit }
      return p
    }
    if let reused, let p = UnsafeMutablePointer<Float>(bitPattern: reused) { return p }
    return fresh(size)
  }

  /// A new buffer; large ones are 2 MB-aligned and marked for transparent huge pages, which
  /// cuts their first-touch page faults 512-fold and the GEMMs' TLB misses.
  private static func fresh(_ size: Int) -> UnsafeMutablePointer<Float> {
    let bytes = size * MemoryLayout<Float>.stride
    let hugePage = 2 << 20
    if bytes >= 2 * hugePage {
      var raw: UnsafeMutableRawPointer? = nil
      if posix_memalign(&raw, hugePage, bytes) == 0, let raw {
        _ = madvise(raw, bytes / hugePage * hugePage, Int32(MADV_HUGEPAGE))
        return raw.bindMemory(to: Float.self, capacity: size)
      }
    }
    return .allocate(capacity: size)
  }

  static func release(_ p: UnsafeMutablePointer<Float>, count: Int) {
    if count < minPooledFloats || capacityBytes == 0 {
      p.deallocate()
      return
    }
    let address = UInt(bitPattern: p)
    let kept = state.withLock { s -> Bool in
      // A lent buffer goes back under its own (possibly larger) size class.
      let size = s.lent.removeValue(forKey: address) ?? sizeClass(count)
      let bytes = size * MemoryLayout<Float>.stride
      guard s.idleBytes + bytes <= capacityBytes else { return false }
      s.idle[size, default: []].append(address)
      s.idleBytes += bytes
      return true
    }
    if !kept { free(p) }
  }

  /// Returns every idle buffer to the system.
  static func drain() {
    let buffers = state.withLock { s -> [UInt] in
      let all = s.idle.values.flatMap { $0 }
      s.idle = [:]
      s.idleBytes = 0
      return all
    }
    for a in buffers { free(UnsafeMutableRawPointer(bitPattern: a)) }
  }
}
