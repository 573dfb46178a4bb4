/// A checkpoint that does not fit the network asked for.
public enum NetworkCheckpointError: Error, CustomStringConvertible, Equatable {
  case unrecognized(network: String, reason: String)

  public var description: String {
    switch self {
    case let .unrecognized(network, reason):
      return "not a \(network) checkpoint: \(reason) (convert the official file with scripts/convert_checkpoints.py)"
    }
  }
}
