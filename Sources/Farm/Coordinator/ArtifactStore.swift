import Foundation

/// The coordinator's artifacts, content-addressed by SHA-256 wherever they live: job inputs and
/// large outputs as files in the blob store, outputs up to `Wire.inlineLimit` in the job
/// database (committed with their result, no file per tiny result). A hash names the same
/// bytes in either place.
public struct ArtifactStore: Sendable {
  public let blobs: BlobStore
  public let store: JobStore

  public init(blobs: BlobStore, store: JobStore) {
    self.blobs = blobs
    self.store = store
  }

  /// The artifact's size, or nil when neither place has it.
  public func size(of hash: String) -> UInt64? {
    if let size = blobs.size(of: hash) { return size }
    return (try? store.smallBlobSize(hash)) ?? nil
  }

  public func contains(_ hash: String) -> Bool { size(of: hash) != nil }

  /// The artifact's bytes.
  public func data(for hash: String) throws(FarmError) -> Data {
    guard BlobStore.isValidHash(hash) else { throw FarmError.badBlobHash(hash) }
    if let data = try store.smallBlob(hash) { return data }
    return try blobs.data(for: hash)
  }

  /// Writes the artifact to `target` (replacing what is there).
  public func export(_ hash: String, to target: URL) throws(FarmError) {
    let manager = FileManager.default
    try? manager.removeItem(at: target)
    do {
      if let data = try store.smallBlob(hash) {
        try data.write(to: target)
      } else {
        try manager.copyItem(at: try blobs.url(for: hash), to: target)
      }
    } catch let error as FarmError {
      throw error
    } catch {
      throw FarmError.io("cannot write \(target.path): \(error.localizedDescription)")
    }
  }
}
