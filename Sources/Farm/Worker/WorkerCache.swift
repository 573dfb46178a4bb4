import Foundation

/// A worker's blob cache: a `BlobStore` bounded in bytes with least-recently-used eviction that
/// never evicts a pinned blob (the inputs of the task at hand).
final class WorkerCache {
  let store: BlobStore
  let limit: UInt64
  private var entries: [String: (size: UInt64, used: Double)] = [:]
  private var total: UInt64 = 0
  var pinned: Set<String> = []
  /// Blobs added and evicted since the coordinator last heard about the cache.
  var added: Set<String> = []
  var evicted: Set<String> = []

  init(root: URL, limit: UInt64) throws(FarmError) {
    store = try BlobStore(root: root)
    self.limit = limit
    for (hash, size) in store.allBlobs() {
      let url = try store.url(for: hash)
      let used = ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.modificationDate] as? Date)?
        .timeIntervalSince1970 ?? 0
      entries[hash] = (size, used)
      total += size
    }
  }

  var hashes: [String] { Array(entries.keys) }
  var bytes: UInt64 { total }

  func contains(_ hash: String) -> Bool { entries[hash] != nil && store.contains(hash) }

  func touch(_ hash: String) {
    entries[hash]?.used = Date().timeIntervalSince1970
  }

  /// Records a blob that just arrived in the store, then evicts down to the limit.
  func didAdd(_ hash: String, size: UInt64) {
    if entries[hash] == nil { total += size }
    entries[hash] = (size, Date().timeIntervalSince1970)
    added.insert(hash)
    evicted.remove(hash)
    evict()
  }

  /// Stores bytes (an inline input or an output) and records them.
  @discardableResult
  func put(_ data: Data) throws(FarmError) -> String {
    let hash = try store.put(data)
    didAdd(hash, size: UInt64(data.count))
    return hash
  }

  /// Removes least recently used, unpinned blobs until the cache fits its limit.
  func evict() {
    guard total > limit else { return }
    for (hash, entry) in entries.sorted(by: { $0.value.used < $1.value.used }) where total > limit {
      guard !pinned.contains(hash) else { continue }
      store.remove(hash)
      entries[hash] = nil
      total -= entry.size
      evicted.insert(hash)
      added.remove(hash)
    }
  }
}
