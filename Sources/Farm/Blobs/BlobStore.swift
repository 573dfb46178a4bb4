import Foundation

/// A content-addressed store of blobs on disk: each blob is a file named by the SHA-256 of its
/// bytes (`blobs/ab/abcdef…`), written atomically, so a name always means the same bytes.
///
/// Thread-safe: every operation works on files, and a blob appears only by an atomic rename.
public final class BlobStore: Sendable {
  /// The store's folder.
  public let root: URL
  private let partialRoot: URL

  /// Opens (creating if needed) the store under `root`.
  public init(root: URL) throws(FarmError) {
    self.root = root
    self.partialRoot = root.appendingPathComponent("partial")
    do {
      try FileManager.default.createDirectory(at: partialRoot, withIntermediateDirectories: true)
    } catch {
      throw FarmError.io("cannot create the blob store at \(root.path): \(error.localizedDescription)")
    }
  }

  /// True for 64 lowercase hex digits: the only names the store accepts (no path can sneak in).
  public static func isValidHash(_ hash: String) -> Bool {
    let utf8 = hash.utf8
    return utf8.count == 64 && utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
  }

  /// Where the blob with `hash` lives (whether or not it is there).
  public func url(for hash: String) throws(FarmError) -> URL {
    guard BlobStore.isValidHash(hash) else { throw FarmError.badBlobHash(hash) }
    let prefix = String(hash.prefix(2))
    return root.appendingPathComponent(prefix).appendingPathComponent(hash)
  }

  /// The blob's size, or nil when the store lacks it.
  public func size(of hash: String) -> UInt64? {
    guard let url = try? url(for: hash),
          let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
          let size = attributes[.size] as? NSNumber
    else { return nil }
    return size.uint64Value
  }

  public func contains(_ hash: String) -> Bool { size(of: hash) != nil }

  /// Stores `data` and returns its hash.
  @discardableResult
  public func put(_ data: Data) throws(FarmError) -> String {
    let hash = BlobHasher.hex(of: data)
    if contains(hash) { return hash }
    let target = try url(for: hash)
    let temporary = partialRoot.appendingPathComponent("put-\(UUID().uuidString)")
    do {
      try data.write(to: temporary)
      try install(temporary, at: target)
    } catch let error as FarmError {
      throw error
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      throw FarmError.io("cannot store a blob of \(data.count) bytes: \(error.localizedDescription)")
    }
    return hash
  }

  /// Copies the file at `source` into the store, hashing as it reads; returns hash and size.
  public func importFile(at source: URL) throws(FarmError) -> (hash: String, size: UInt64) {
    let temporary = partialRoot.appendingPathComponent("import-\(UUID().uuidString)")
    do {
      let input = try FileHandle(forReadingFrom: source)
      defer { try? input.close() }
      FileManager.default.createFile(atPath: temporary.path, contents: nil)
      let output = try FileHandle(forWritingTo: temporary)
      var hasher = BlobHasher()
      var size: UInt64 = 0
      while let chunk = try input.read(upToCount: 4 << 20), !chunk.isEmpty {
        hasher.update(chunk)
        try output.write(contentsOf: chunk)
        size += UInt64(chunk.count)
      }
      try output.close()
      let hash = hasher.finalizeHex()
      if contains(hash) {
        try FileManager.default.removeItem(at: temporary)
      } else {
        try install(temporary, at: try url(for: hash))
      }
      return (hash, size)
    } catch let error as FarmError {
      throw error
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      throw FarmError.io("cannot import \(source.path): \(error.localizedDescription)")
    }
  }

  /// The blob's bytes.
  public func data(for hash: String) throws(FarmError) -> Data {
    let url = try url(for: hash)
    do {
      return try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
      throw FarmError.missingBlob(hash)
    }
  }

  /// Up to `count` bytes of the blob from `offset`.
  public func read(_ hash: String, offset: UInt64, count: Int) throws(FarmError) -> Data {
    let url = try url(for: hash)
    do {
      let handle = try FileHandle(forReadingFrom: url)
      defer { try? handle.close() }
      try handle.seek(toOffset: offset)
      return try handle.read(upToCount: count) ?? Data()
    } catch {
      throw FarmError.missingBlob(hash)
    }
  }

  /// Removes a blob (the worker cache's eviction).
  public func remove(_ hash: String) {
    if let url = try? url(for: hash) { try? FileManager.default.removeItem(at: url) }
  }

  /// Every stored blob's hash and size.
  public func allBlobs() -> [(hash: String, size: UInt64)] {
    let manager = FileManager.default
    guard let prefixes = try? manager.contentsOfDirectory(atPath: root.path) else { return [] }
    var blobs: [(String, UInt64)] = []
    for prefix in prefixes where prefix.utf8.count == 2 {
      let folder = root.appendingPathComponent(prefix)
      for name in (try? manager.contentsOfDirectory(atPath: folder.path)) ?? [] where BlobStore.isValidHash(name) {
        if let size = self.size(of: name) { blobs.append((name, size)) }
      }
    }
    return blobs
  }

  /// Starts or resumes receiving the blob `hash` of `size` bytes (see `PartialBlob`).
  public func receive(_ hash: String, size: UInt64) throws(FarmError) -> PartialBlob {
    guard BlobStore.isValidHash(hash) else { throw FarmError.badBlobHash(hash) }
    return try PartialBlob(store: self, hash: hash, size: size,
                           file: partialRoot.appendingPathComponent(hash))
  }

  /// Moves a finished file into place; an existing blob with the same name is the same bytes.
  func install(_ file: URL, at target: URL) throws(FarmError) {
    do {
      try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
      if rename(file.path, target.path) != 0 {
        throw FarmError.io("cannot move \(file.lastPathComponent) into the blob store: \(String(cString: strerror(errno)))")
      }
    } catch let error as FarmError {
      throw error
    } catch {
      throw FarmError.io("cannot create \(target.deletingLastPathComponent().path): \(error.localizedDescription)")
    }
  }
}
