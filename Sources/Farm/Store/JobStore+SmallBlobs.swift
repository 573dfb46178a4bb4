import Foundation
import GRDB

extension JobStore {
  /// Stores small blobs by their hash (the caller has checked each hash); one that is already
  /// there is the same bytes.
  static func putSmallBlobs(_ db: Database, _ blobs: [String: Data]) throws {
    guard !blobs.isEmpty else { return }
    let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO small_blobs (sha256, data) VALUES (?, ?)")
    for (hash, data) in blobs { try insert.execute(arguments: [hash, data]) }
  }

  /// Stores one small blob under its hash (checked by the caller).
  public func putSmallBlob(_ data: Data, hash: String) throws(FarmError) {
    try write { db in try JobStore.putSmallBlobs(db, [hash: data]) }
  }

  /// The bytes of a small blob kept in the database, or nil.
  public func smallBlob(_ hash: String) throws(FarmError) -> Data? {
    try read { db in
      try Data.fetchOne(db.cachedStatement(sql: "SELECT ifnull(data, x'') FROM small_blobs WHERE sha256 = ?"), arguments: [hash])
    }
  }

  /// The size of a small blob kept in the database, or nil.
  public func smallBlobSize(_ hash: String) throws(FarmError) -> UInt64? {
    try read { db in
      try Int64.fetchOne(db.cachedStatement(sql: "SELECT ifnull(length(data), 0) FROM small_blobs WHERE sha256 = ?"), arguments: [hash])
        .map { UInt64($0) }
    }
  }
}
