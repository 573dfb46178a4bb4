import CZeroMQ

/// Readiness a poller waits for or reports.
public struct ZMQPollEvents: OptionSet, Sendable {
  public let rawValue: Int16
  public init(rawValue: Int16) { self.rawValue = rawValue }

  /// At least one message can be received without blocking.
  public static let readable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLIN))
  /// At least one message can be sent without blocking.
  public static let writable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLOUT))
}
