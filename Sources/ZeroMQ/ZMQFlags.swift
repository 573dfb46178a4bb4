import CZeroMQ

/// Flags for a send or receive call.
public struct ZMQFlags: OptionSet, Sendable {
  public let rawValue: Int32
  public init(rawValue: Int32) { self.rawValue = rawValue }

  /// Fail with `.timedOut` instead of blocking.
  public static let dontWait = ZMQFlags(rawValue: ZMQ_DONTWAIT)
  /// More frames of the same message follow this one.
  public static let sendMore = ZMQFlags(rawValue: ZMQ_SNDMORE)
}
