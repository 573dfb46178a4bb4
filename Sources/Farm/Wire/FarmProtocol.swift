/// The farm's wire protocol version; every envelope carries it and a peer refuses any other.
public enum FarmProtocol {
  /// Bumped whenever `Proto/redub/v1/farm.proto` or the framing changes incompatibly.
  /// 2: a blob chunk's bytes travel as a frame after its envelope (`Wire.chunkFrames`).
  public static let version: UInt32 = 2
}
