import CZeroMQ

/// The messaging pattern of a socket.
public enum ZMQSocketType: Sendable, CaseIterable {
  case pair, dealer, router, req, rep, pub, sub, push, pull

  /// The ZMQ_* constant passed to `zmq_socket`.
  var cValue: Int32 {
    switch self {
    case .pair: ZMQ_PAIR
    case .dealer: ZMQ_DEALER
    case .router: ZMQ_ROUTER
    case .req: ZMQ_REQ
    case .rep: ZMQ_REP
    case .pub: ZMQ_PUB
    case .sub: ZMQ_SUB
    case .push: ZMQ_PUSH
    case .pull: ZMQ_PULL
    }
  }
}
