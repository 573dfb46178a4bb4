import CZeroMQ

/// Waits on several sockets at once with `zmq_poll`, so one thread can serve them all.
///
/// Holds its sockets, so they stay open while registered.
public struct ZMQPoller {
  private var sockets: [ZMQSocket] = []
  private var items: [zmq_pollitem_t] = []

  public init() {}

  /// The number of registered sockets and file descriptors.
  public var count: Int { items.count }

  /// Adds `socket`; the returned index is its position in `poll`'s result.
  @discardableResult
  public mutating func register(_ socket: ZMQSocket, for events: ZMQPollEvents = .readable) -> Int {
    sockets.append(socket)
    items.append(zmq_pollitem_t(socket: socket.handle, fd: 0, events: events.rawValue, revents: 0))
    return items.count - 1
  }

  /// Adds a plain file descriptor (a pipe, an eventfd) to wait on beside the sockets; the
  /// returned index is its position in `poll`'s result.
  @discardableResult
  public mutating func register(fileDescriptor: Int32, for events: ZMQPollEvents = .readable) -> Int {
    items.append(zmq_pollitem_t(socket: nil, fd: fileDescriptor, events: events.rawValue, revents: 0))
    return items.count - 1
  }

  /// Waits until a socket is ready or `timeout` passes (nil waits forever, zero only checks).
  ///
  /// - Returns: the ready events per socket, in registration order; all empty on timeout.
  public func poll(timeout: Duration?) throws(ZMQError) -> [ZMQPollEvents] {
    var ready = items
    let milliseconds = timeout.map(ZMQPoller.milliseconds) ?? -1
    let result = ready.withUnsafeMutableBufferPointer { buffer in
      zmq_poll(buffer.baseAddress, Int32(buffer.count), milliseconds)
    }
    if result < 0 { throw ZMQError.last("zmq_poll") }
    return ready.map { ZMQPollEvents(rawValue: $0.revents) }
  }

  /// Rounds up so a short positive timeout still waits instead of only checking.
  private static func milliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    guard seconds >= 0, duration > .zero else { return 0 }
    let perMillisecond: Int64 = 1_000_000_000_000_000
    let (wholeMilliseconds, remainder) = attoseconds.quotientAndRemainder(dividingBy: perMillisecond)
    let total = seconds.multipliedReportingOverflow(by: 1000)
    guard !total.overflow, total.partialValue < Int64(Int.max) - 2 else { return Int.max }
    return Int(total.partialValue + wholeMilliseconds + (remainder > 0 ? 1 : 0))
  }
}
