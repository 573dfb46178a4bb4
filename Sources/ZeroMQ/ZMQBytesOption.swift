import CZeroMQ

/// A socket option whose value is a byte string.
public enum ZMQBytesOption: Sendable, CaseIterable {
  /// ZMQ_ROUTING_ID: the identity a ROUTER peer sees for this socket (1 to 255 bytes).
  case routingID
  /// ZMQ_SUBSCRIBE: a SUB socket's message prefix filter to add (write only; empty means all).
  case subscribe
  /// ZMQ_UNSUBSCRIBE: a prefix filter to remove (write only).
  case unsubscribe
  /// ZMQ_CURVE_PUBLICKEY: this socket's long-term public key (client side).
  case curvePublicKey
  /// ZMQ_CURVE_SECRETKEY: this socket's long-term secret key (both sides).
  case curveSecretKey
  /// ZMQ_CURVE_SERVERKEY: the server's public key a client expects (client side).
  case curveServerKey
  /// ZMQ_ZAP_DOMAIN: the domain passed to the ZAP authentication handler.
  case zapDomain
  /// ZMQ_LAST_ENDPOINT: the endpoint last bound, with '*' resolved to the real port (read only).
  case lastEndpoint

  var cValue: Int32 {
    switch self {
    case .routingID: ZMQ_ROUTING_ID
    case .subscribe: ZMQ_SUBSCRIBE
    case .unsubscribe: ZMQ_UNSUBSCRIBE
    case .curvePublicKey: ZMQ_CURVE_PUBLICKEY
    case .curveSecretKey: ZMQ_CURVE_SECRETKEY
    case .curveServerKey: ZMQ_CURVE_SERVERKEY
    case .zapDomain: ZMQ_ZAP_DOMAIN
    case .lastEndpoint: ZMQ_LAST_ENDPOINT
    }
  }

  /// CURVE keys are 32 bytes binary or 40 Z85 characters; as text libzmq wants the NUL too.
  var isCurveKey: Bool {
    switch self {
    case .curvePublicKey, .curveSecretKey, .curveServerKey: true
    default: false
    }
  }
}
