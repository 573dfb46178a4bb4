/// The farm's wire protocol version; every envelope carries it and a peer refuses any other.
public enum FarmProtocol {
  /// Bumped whenever `Proto/redub/v1/farm.proto` or the framing changes incompatibly.
  /// 2: a blob chunk's bytes travel as a frame after its envelope (`Wire.chunkFrames`).
  /// 3: a result may carry follow-up tasks (`TaskResult.follow_up_tasks`) and a task spec
  ///    exports (`TaskSpec.exports`); an older peer would silently drop them.
  public static let version: UInt32 = 3
}
