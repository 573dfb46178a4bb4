import CZeroMQ

/// A socket option whose value is a C `int` (booleans are 0 or 1, durations are milliseconds).
public enum ZMQIntOption: Sendable, CaseIterable {
  /// ZMQ_LINGER: how long a closing socket keeps trying to deliver (ms, -1 forever, 0 drop).
  case linger
  /// ZMQ_RCVTIMEO: how long a receive blocks before `.timedOut` (ms, -1 forever).
  case receiveTimeout
  /// ZMQ_SNDTIMEO: how long a send blocks before `.timedOut` (ms, -1 forever).
  case sendTimeout
  /// ZMQ_SNDHWM: outgoing messages queued per peer before sends block or drop.
  case sendHighWaterMark
  /// ZMQ_RCVHWM: incoming messages queued per peer.
  case receiveHighWaterMark
  /// ZMQ_IMMEDIATE: queue only to completed connections (bool).
  case immediate
  /// ZMQ_CURVE_SERVER: act as the CURVE server; needs `.curveSecretKey` (bool).
  case curveServer
  /// ZMQ_ROUTER_MANDATORY: a ROUTER send to an unknown routing id fails with EHOSTUNREACH (bool).
  case routerMandatory
  /// ZMQ_IPV6: allow IPv6 on tcp:// endpoints (bool).
  case ipv6
  /// ZMQ_HEARTBEAT_IVL: send a ZMTP ping this often (ms, 0 off).
  case heartbeatInterval
  /// ZMQ_HEARTBEAT_TIMEOUT: drop the connection when no traffic follows a ping for this long (ms).
  case heartbeatTimeout
  /// ZMQ_HEARTBEAT_TTL: how long the peer should wait for our traffic (ms).
  case heartbeatTTL
  /// ZMQ_HANDSHAKE_IVL: limit on the security handshake (ms, 0 none).
  case handshakeInterval
  /// ZMQ_RECONNECT_IVL: first delay before reconnecting (ms, -1 never).
  case reconnectInterval
  /// ZMQ_RECONNECT_IVL_MAX: ceiling of the exponential reconnect back-off (ms).
  case reconnectIntervalMax
  /// ZMQ_BACKLOG: pending tcp connections a bound socket accepts.
  case backlog
  /// ZMQ_RCVMORE: the last received frame has more frames after it (read only, bool).
  case receiveMore
  /// ZMQ_TYPE: the socket type constant (read only).
  case type
  /// ZMQ_EVENTS: ZMQ_POLLIN/ZMQ_POLLOUT readiness right now (read only).
  case events

  var cValue: Int32 {
    switch self {
    case .linger: ZMQ_LINGER
    case .receiveTimeout: ZMQ_RCVTIMEO
    case .sendTimeout: ZMQ_SNDTIMEO
    case .sendHighWaterMark: ZMQ_SNDHWM
    case .receiveHighWaterMark: ZMQ_RCVHWM
    case .immediate: ZMQ_IMMEDIATE
    case .curveServer: ZMQ_CURVE_SERVER
    case .routerMandatory: ZMQ_ROUTER_MANDATORY
    case .ipv6: ZMQ_IPV6
    case .heartbeatInterval: ZMQ_HEARTBEAT_IVL
    case .heartbeatTimeout: ZMQ_HEARTBEAT_TIMEOUT
    case .heartbeatTTL: ZMQ_HEARTBEAT_TTL
    case .handshakeInterval: ZMQ_HANDSHAKE_IVL
    case .reconnectInterval: ZMQ_RECONNECT_IVL
    case .reconnectIntervalMax: ZMQ_RECONNECT_IVL_MAX
    case .backlog: ZMQ_BACKLOG
    case .receiveMore: ZMQ_RCVMORE
    case .type: ZMQ_TYPE
    case .events: ZMQ_EVENTS
    }
  }
}
