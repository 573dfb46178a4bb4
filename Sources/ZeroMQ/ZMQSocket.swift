import CZeroMQ

/// One libzmq socket, closed when the object goes away.
///
/// Not `Sendable`: libzmq sockets are not thread-safe, so the compiler keeps each one in a single
/// isolation domain. Create it in the thread or actor that uses it.
public final class ZMQSocket {
  let handle: UnsafeMutableRawPointer
  /// Held so the context outlives the socket: `zmq_ctx_term` waits until every socket is closed.
  private let context: ZMQContext

  /// The messaging pattern given at creation.
  public let type: ZMQSocketType

  public init(_ context: ZMQContext, type: ZMQSocketType) throws(ZMQError) {
    guard let handle = zmq_socket(context.handle, type.cValue) else {
      throw ZMQError.last("zmq_socket(\(type))")
    }
    self.handle = handle
    self.context = context
    self.type = type
  }

  deinit {
    zmq_close(handle)
  }

  /// Accepts connections on `endpoint` ("tcp://127.0.0.1:*" picks a free port; read `lastEndpoint`).
  public func bind(_ endpoint: String) throws(ZMQError) {
    try check(zmq_bind(handle, endpoint), "zmq_bind(\(endpoint))")
  }

  /// Connects to `endpoint`; libzmq reconnects in the background, so this does not wait for a peer.
  public func connect(_ endpoint: String) throws(ZMQError) {
    try check(zmq_connect(handle, endpoint), "zmq_connect(\(endpoint))")
  }

  /// Stops accepting on an endpoint given to `bind` (use the resolved `lastEndpoint` for '*').
  public func unbind(_ endpoint: String) throws(ZMQError) {
    try check(zmq_unbind(handle, endpoint), "zmq_unbind(\(endpoint))")
  }

  /// Drops a connection made with `connect`.
  public func disconnect(_ endpoint: String) throws(ZMQError) {
    try check(zmq_disconnect(handle, endpoint), "zmq_disconnect(\(endpoint))")
  }

  /// The endpoint last bound, with a wildcard port resolved ("tcp://127.0.0.1:41235").
  public var lastEndpoint: String {
    get throws(ZMQError) { try string(.lastEndpoint) }
  }

  /// Turns libzmq's "-1 and errno" convention into a throw.
  @discardableResult
  func check(_ result: Int32, _ operation: @autoclosure () -> String) throws(ZMQError) -> Int32 {
    if result < 0 { throw ZMQError.last(operation()) }
    return result
  }
}

@available(*, unavailable, message: "a ZMQSocket must stay in one thread; create it where it is used")
extension ZMQSocket: Sendable {}
