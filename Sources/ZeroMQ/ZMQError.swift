import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure reported by libzmq (its errno and `zmq_strerror` text) or refused by this wrapper.
///
/// EAGAIN, ETERM and EINTR get their own cases because callers act on them differently:
/// a timeout is routine, a terminated context means "drop the socket", an interrupt means "retry".
public enum ZMQError: Error, CustomStringConvertible, Equatable, Sendable {
  /// EAGAIN: the send/receive timeout expired, or `.dontWait` found nothing to do.
  case timedOut(operation: String)
  /// ETERM: the socket's context was shut down; close the socket.
  case contextTerminated(operation: String)
  /// EINTR: a signal interrupted the call before it finished; retrying is safe.
  case interrupted(operation: String)
  /// Any other libzmq error.
  case failed(operation: String, code: Int32, message: String)
  /// An argument this wrapper rejects before calling libzmq (reported as EINVAL).
  case invalidArgument(String)

  /// Maps an errno value from libzmq to a case.
  public init(code: Int32, operation: String) {
    switch code {
    case EAGAIN: self = .timedOut(operation: operation)
    case ETERM: self = .contextTerminated(operation: operation)
    case EINTR: self = .interrupted(operation: operation)
    default: self = .failed(operation: operation, code: code, message: ZMQError.text(for: code))
    }
  }

  /// The error libzmq recorded for the calling thread's last failed call.
  static func last(_ operation: String) -> ZMQError {
    ZMQError(code: zmq_errno(), operation: operation)
  }

  /// The errno value (EINVAL for `.invalidArgument`).
  public var code: Int32 {
    switch self {
    case .timedOut: EAGAIN
    case .contextTerminated: ETERM
    case .interrupted: EINTR
    case .failed(_, let code, _): code
    case .invalidArgument: EINVAL
    }
  }

  /// libzmq's `zmq_strerror` text for `code`.
  public var message: String {
    switch self {
    case .failed(_, _, let message): message
    default: ZMQError.text(for: code)
    }
  }

  /// True when the call ran out of time (EAGAIN) rather than failing.
  public var isTimeout: Bool { code == EAGAIN }

  public var description: String {
    switch self {
    case .timedOut(let operation):
      "\(operation): \(message) (errno \(code)); nothing was ready before the timeout, retry or raise ZMQ_RCVTIMEO/ZMQ_SNDTIMEO"
    case .contextTerminated(let operation):
      "\(operation): \(message) (errno \(code)); the context is shutting down, close this socket"
    case .interrupted(let operation):
      "\(operation): \(message) (errno \(code)); interrupted by a signal, retry the call"
    case .failed(let operation, let code, let message):
      "\(operation): \(message) (errno \(code))" + ZMQError.hint(for: code)
    case .invalidArgument(let detail):
      "invalid argument: \(detail)"
    }
  }

  static func text(for code: Int32) -> String {
    guard let text = zmq_strerror(code) else { return "unknown error \(code)" }
    return String(cString: text)
  }

  /// What to do about the errors a farm operator is likely to meet.
  private static func hint(for code: Int32) -> String {
    switch code {
    case EADDRINUSE: "; another socket holds this address, pick another port or bind to port '*'"
    case EPROTONOSUPPORT: "; the transport is unknown to this libzmq, use tcp://, ipc:// or inproc://"
    case EHOSTUNREACH: "; no connected peer has that routing id (ZMQ_ROUTER_MANDATORY)"
    case EFSM: "; the socket's send/receive order was broken (REQ/REP must alternate)"
    case ENOTSUP: "; this libzmq was built without the feature (check ZeroMQ.version and zmq_has)"
    case EINVAL: "; an endpoint or option value is malformed"
    default: ""
    }
  }
}
