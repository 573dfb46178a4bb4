import Foundation
import Synchronization

/// A blob being received in chunks, kept under `partial/` so a broken transfer resumes from
/// `offset`; `finish` checks the SHA-256 of all bytes and moves the file into the store.
///
/// Resuming does not hash the bytes already on disk up front (gigabytes would stall the caller):
/// `catchUp(for:)` hashes them in slices between other work, and `finish` hashes what is left.
///
/// Large chunks are written and hashed on a thread of their own (`ChunkSink`), so the thread
/// that receives them goes back to its socket at once; a write error surfaces on the next
/// `append` or in `finish`.
public final class PartialBlob {
  public let hash: String
  public let size: UInt64
  /// Bytes received so far; the next chunk must start here.
  public private(set) var offset: UInt64
  /// Bytes hashed so far (behind `offset` while a resumed prefix is being caught up).
  public private(set) var hashed: UInt64 = 0
  private let store: BlobStore
  private let file: URL
  private let handle: FileHandle
  private var reader: FileHandle?
  private let sink: ChunkSink

  init(store: BlobStore, hash: String, size: UInt64, file: URL) throws(FarmError) {
    self.store = store
    self.hash = hash
    self.size = size
    self.file = file
    do {
      if !FileManager.default.fileExists(atPath: file.path) {
        FileManager.default.createFile(atPath: file.path, contents: nil)
      }
      handle = try FileHandle(forUpdating: file)
      let existing = min(try handle.seekToEnd(), size)
      try handle.truncate(atOffset: existing)
      try handle.seek(toOffset: existing)
      offset = existing
      sink = ChunkSink(handle: handle)
    } catch {
      throw FarmError.io("cannot open the partial blob \(file.path): \(error.localizedDescription)")
    }
  }

  /// True while bytes already on disk wait to be hashed.
  public var needsCatchUp: Bool { hashed < offset }

  /// Hashes bytes already on disk for about `duration` (whole 256 KiB slices).
  public func catchUp(for duration: Duration) throws(FarmError) {
    sink.drain()
    let deadline = ContinuousClock.now + duration
    while hashed < offset {
      do {
        if reader == nil {
          reader = try FileHandle(forReadingFrom: file)
          try reader!.seek(toOffset: hashed)
        }
        let count = Int(min(256 << 10, offset - hashed))
        guard let data = try reader!.read(upToCount: count), !data.isEmpty else {
          throw FarmError.io("\(file.path) is shorter than the \(offset) bytes received")
        }
        sink.hasher.update(data)
        hashed += UInt64(data.count)
      } catch let error as FarmError {
        throw error
      } catch {
        throw FarmError.io("cannot read \(file.path): \(error.localizedDescription)")
      }
      if ContinuousClock.now >= deadline { break }
    }
    if hashed == offset { try? reader?.close(); reader = nil }
  }

  deinit {
    sink.drain()
    try? handle.close()
    try? reader?.close()
  }

  /// Appends a chunk that must start at `offset`. When it throws, every chunk accepted before
  /// is on disk, so a new receiver of the same blob resumes from the file as it is.
  public func append(_ data: Data, at chunkOffset: UInt64) throws(FarmError) {
    guard chunkOffset == offset else {
      sink.drain()
      throw FarmError.transfer("chunk of \(hash.prefix(12)) at offset \(chunkOffset), expected \(offset)")
    }
    guard offset + UInt64(data.count) <= size else {
      sink.drain()
      throw FarmError.transfer("chunk of \(hash.prefix(12)) runs past its size \(size)")
    }
    if sink.failed {
      sink.drain()
      try sink.checkFailure(file)
    }
    // Hash in passing when caught up; otherwise `catchUp` reads it back in order.
    let hashNow = hashed == offset
    if hashNow && data.count >= PartialBlob.parallelHashBytes {
      sink.enqueue(data)
    } else {
      sink.drain()
      try sink.checkFailure(file)
      do { try handle.write(contentsOf: data) } catch {
        throw FarmError.io("cannot write \(file.path): \(error.localizedDescription)")
      }
      if hashNow { sink.hasher.update(data) }
    }
    if hashNow { hashed += UInt64(data.count) }
    offset += UInt64(data.count)
  }

  /// Chunks at least this large are hashed on another thread while they are written.
  static let parallelHashBytes = 256 << 10

  public var isComplete: Bool { offset == size }

  /// Checks the hash and installs the blob; on a mismatch the partial file is deleted.
  public func finish() throws(FarmError) {
    guard isComplete else { throw FarmError.transfer("blob \(hash.prefix(12)) has \(offset) of \(size) bytes") }
    sink.drain()
    try sink.checkFailure(file)
    while needsCatchUp { try catchUp(for: .seconds(3600)) }
    try? handle.close()
    let actual = sink.hasher.finalizeHex()
    guard actual == hash else {
      try? FileManager.default.removeItem(at: file)
      throw FarmError.hashMismatch(expected: hash, actual: actual)
    }
    try store.install(file, at: try store.url(for: hash))
  }

  /// Drops the partial file (a transfer that will not be resumed).
  public func discard() {
    sink.drain()
    try? handle.close()
    try? reader?.close()
    try? FileManager.default.removeItem(at: file)
  }
}

/// Writes a blob's large chunks in order on a queue of its own, each hashed on a second thread
/// beside its write. Its `hasher` is touched only on that queue, or by the owner after `drain`.
private final class ChunkSink: @unchecked Sendable {
  let handle: FileHandle
  var hasher = BlobHasher()
  private let failure = Mutex<String?>(nil)
  private let queue = DispatchQueue(label: "redub.blob-sink")
  /// Chunks queued at most; `enqueue` waits for room beyond that (backpressure on the receiver).
  private let room = DispatchSemaphore(value: 8)

  init(handle: FileHandle) { self.handle = handle }

  /// Writes and hashes `data` after the chunks queued before it.
  func enqueue(_ data: Data) {
    room.wait()
    queue.async { [self] in
      defer { room.signal() }
      guard failure.withLock({ $0 == nil }) else { return }
      let handle = self.handle
      let written = Slot<String?>(nil)
      let chunkHasher = Slot(hasher)
      DispatchQueue.concurrentPerform(iterations: 2) { part in
        if part == 0 {
          do { try handle.write(contentsOf: data) } catch { written.value = error.localizedDescription }
        } else {
          chunkHasher.value.update(data)
        }
      }
      if let message = written.value {
        failure.withLock { $0 = message }
      } else {
        hasher = chunkHasher.value
      }
    }
  }

  /// Waits until every queued chunk is written.
  func drain() { queue.sync {} }

  /// True once a queued chunk failed to write.
  var failed: Bool { failure.withLock { $0 != nil } }

  /// Throws the first write error of a queued chunk.
  func checkFailure(_ file: URL) throws(FarmError) {
    if let message = failure.withLock({ $0 }) { throw FarmError.io("cannot write \(file.path): \(message)") }
  }
}

/// A value one parallel iteration writes and the caller reads after they all returned
/// (`concurrentPerform` returning orders the accesses).
private final class Slot<Value>: @unchecked Sendable {
  var value: Value
  init(_ value: Value) { self.value = value }
}
