import Foundation

/// A worker's results not yet acknowledged, kept on disk so a restarted worker still delivers
/// them: one append-only log (`pending/results.log`) rather than a file per result, because
/// creating and deleting a file per tiny task cost more than the task (ext4 inode churn).
///
/// Records are `kind (1 byte) | task id (8) | length (4) | bytes`, little-endian; kind 1 holds
/// a serialized `TaskResult`, kind 2 removes a task's. Each record is one `write`; a killed
/// worker may leave a torn last record, which loading ignores. When nothing is pending the
/// log is truncated, so it stays small. No fsync: like the coordinator's database (WAL,
/// synchronous = NORMAL) it survives a killed worker, the failure model; after a power cut
/// the lease expires and the task runs again.
final class PendingResults {
  /// What the log held when opened, by task id.
  private(set) var loaded: [UInt64: Redub_V1_TaskResult] = [:]
  private var live: Set<UInt64> = []
  private let path: String
  private var descriptor: Int32 = -1

  private static let resultRecord: UInt8 = 1
  private static let removalRecord: UInt8 = 2
  private static let headerSize = 13

  /// Opens the log in `folder`, reading what it holds (and results of older versions kept as
  /// `*.result` files), then rewrites it with only the live results.
  init(folder: URL) throws(FarmError) {
    path = folder.appendingPathComponent("results.log").path
    if let data = FileManager.default.contents(atPath: path) { loaded = PendingResults.parse(data) }
    let manager = FileManager.default
    var legacy: [URL] = []
    for file in (try? manager.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [] {
      switch file.pathExtension {
      case "result":
        legacy.append(file)
        if let data = try? Data(contentsOf: file), let result = try? Redub_V1_TaskResult(serializedBytes: data) {
          loaded[result.taskID] = result
        }
      case "partial": legacy.append(file)
      default: break
      }
    }
    // Compact: write the live results to a new log and rename it over the old one.
    let temporary = path + ".new"
    descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard descriptor >= 0 else { throw FarmError.io("cannot create \(temporary): \(PendingResults.lastError)") }
    for result in loaded.values.sorted(by: { $0.taskID < $1.taskID }) { try add(result) }
    close(descriptor)
    guard rename(temporary, path) == 0 else { throw FarmError.io("cannot replace \(path): \(PendingResults.lastError)") }
    for file in legacy { try? manager.removeItem(at: file) }
    descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
    guard descriptor >= 0 else { throw FarmError.io("cannot open \(path): \(PendingResults.lastError)") }
  }

  deinit { if descriptor >= 0 { close(descriptor) } }

  /// How many results are pending.
  var count: Int { live.count }

  /// Keeps `result` until `remove(result.taskID)`.
  func add(_ result: Redub_V1_TaskResult) throws(FarmError) {
    let bytes: Data
    do { bytes = try result.serializedData() } catch { throw FarmError.io("cannot serialize a result: \(error)") }
    try append(PendingResults.resultRecord, result.taskID, bytes)
    live.insert(result.taskID)
  }

  /// Forgets a task's result (acknowledged or refused).
  func remove(_ taskID: UInt64) {
    guard live.remove(taskID) != nil else { return }
    if live.isEmpty {
      // Nothing pending: an empty log says the same, in one cheap call.
      if ftruncate(descriptor, 0) == 0 { return }
    }
    try? append(PendingResults.removalRecord, taskID, Data())
  }

  private func append(_ kind: UInt8, _ taskID: UInt64, _ payload: Data) throws(FarmError) {
    var record = Data(capacity: PendingResults.headerSize + payload.count)
    record.append(kind)
    withUnsafeBytes(of: taskID.littleEndian) { record.append(contentsOf: $0) }
    withUnsafeBytes(of: UInt32(payload.count).littleEndian) { record.append(contentsOf: $0) }
    record.append(payload)
    let failure: Int32? = record.withUnsafeBytes { buffer in
      var written = 0
      while written < buffer.count {
        let n = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
        if n < 0 {
          if errno == EINTR { continue }
          return errno
        }
        written += n
      }
      return nil
    }
    if let failure { throw FarmError.io("cannot write \(path): \(String(cString: strerror(failure)))") }
  }

  /// The results a log holds; stops at a torn or unknown record.
  static func parse(_ data: Data) -> [UInt64: Redub_V1_TaskResult] {
    var results: [UInt64: Redub_V1_TaskResult] = [:]
    data.withUnsafeBytes { bytes in
      var offset = 0
      while offset + headerSize <= bytes.count {
        let kind = bytes[offset]
        let taskID = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 1, as: UInt64.self))
        let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 9, as: UInt32.self)))
        let start = offset + headerSize
        guard start + length <= bytes.count else { break }
        switch kind {
        case resultRecord:
          guard let result = try? Redub_V1_TaskResult(serializedBytes: Data(bytes[start..<(start + length)])),
                result.taskID == taskID else { return }
          results[taskID] = result
        case removalRecord:
          results[taskID] = nil
        default:
          return
        }
        offset = start + length
      }
    }
    return results
  }

  private static var lastError: String { String(cString: strerror(errno)) }
}
