/// A farm failure, saying what went wrong and what to do about it.
public enum FarmError: Error, CustomStringConvertible, Equatable, Sendable {
  /// A file or folder could not be read or written.
  case io(String)
  /// A blob name that is not 64 lowercase hex digits.
  case badBlobHash(String)
  /// The store lacks a blob.
  case missingBlob(String)
  /// A received blob's bytes do not hash to its name.
  case hashMismatch(expected: String, actual: String)
  /// A blob transfer broke its protocol.
  case transfer(String)
  /// The job database failed.
  case database(String)
  /// A message could not be decoded or broke the protocol.
  case wire(String)
  /// A submitted job spec is invalid.
  case invalidJob(String)
  /// No job with this id.
  case unknownJob(String)
  /// A path outside the coordinator's data root.
  case pathOutsideDataRoot(String)
  /// Keys or the allowlist are missing or malformed.
  case keys(String)
  /// The coordinator did not answer in time.
  case coordinatorUnreachable(String)
  /// The coordinator answered with an error.
  case coordinator(String)
  /// A configuration value is out of range.
  case configuration(String)

  public var description: String {
    switch self {
    case .io(let detail): "I/O error: \(detail)"
    case .badBlobHash(let hash): "bad blob name '\(hash.prefix(80))': a blob is named by 64 lowercase hex digits of its SHA-256"
    case .missingBlob(let hash): "blob \(hash) is not in the store; resubmit its input or check the state directory"
    case .hashMismatch(let expected, let actual):
      "blob \(expected) arrived with SHA-256 \(actual); the partial copy was deleted, the transfer restarts from zero"
    case .transfer(let detail): "blob transfer failed: \(detail)"
    case .database(let detail): "job database: \(detail)"
    case .wire(let detail): "bad farm message: \(detail)"
    case .invalidJob(let detail): "invalid job: \(detail)"
    case .unknownJob(let id): "no job '\(id)'; `redub status` lists the jobs"
    case .pathOutsideDataRoot(let path):
      "path \(path) is outside the coordinator's data root; move it there or start the coordinator with --data-root"
    case .keys(let detail): "keys: \(detail)"
    case .coordinatorUnreachable(let address):
      "no answer from the coordinator at \(address); is `redub coordinator` running there (check --coordinator or REDUB_COORDINATOR, and --keys)?"
    case .coordinator(let message): "coordinator: \(message)"
    case .configuration(let detail): "configuration: \(detail)"
    }
  }
}
