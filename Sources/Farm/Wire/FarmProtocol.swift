/// The farm's wire protocol version; every envelope carries it and a peer refuses any other.
public enum FarmProtocol {
  /// Bumped whenever `Proto/redub/v1/farm.proto` changes incompatibly.
  public static let version: UInt32 = 1
}
