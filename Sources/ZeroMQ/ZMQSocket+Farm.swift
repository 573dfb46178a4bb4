import CZeroMQ
import Foundation

// Options and receive calls the render farm needs beyond the basic wrapper.
extension ZMQSocket {
  /// ZMQ_MAXMSGSIZE: a peer sending a larger message is disconnected (bytes, -1 no limit).
  public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) {
    var value = bytes
    try check(zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &value, MemoryLayout<Int64>.size), "zmq_setsockopt(ZMQ_MAXMSGSIZE)")
  }

  /// ZMQ_ROUTER_HANDOVER: a new connection claiming a known routing id takes it over, so a peer
  /// that reconnects with its stable id is reachable at once (ROUTER only).
  public func setRouterHandover(_ enabled: Bool) throws(ZMQError) {
    var value: Int32 = enabled ? 1 : 0
    try check(zmq_setsockopt(handle, ZMQ_ROUTER_HANDOVER, &value, MemoryLayout<Int32>.size), "zmq_setsockopt(ZMQ_ROUTER_HANDOVER)")
  }

  /// Receives all frames of the next message as `Data`, with the connection's metadata property
  /// `property` ("User-Id": the id a ZAP handler gave the connection; "Peer-Address"), read from
  /// the first frame that carries it (a ROUTER's routing-id frame carries none).
  public func receiveMultipartData(flags: ZMQFlags = [], property: String) throws(ZMQError) -> (frames: [Data], property: String?) {
    let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
    defer { message.deallocate() }
    var frames: [Data] = []
    var value: String?
    var frameFlags = flags
    while true {
      zmq_msg_init(message)
      defer { zmq_msg_close(message) }
      try check(zmq_msg_recv(message, handle, frameFlags.rawValue), "zmq_msg_recv")
      if value == nil, let text = zmq_msg_gets(message, property) { value = String(cString: text) }
      let more = zmq_msg_more(message) != 0
      frames.append(ZMQSocket.takeData(message))
      if !more { break }
      frameFlags.remove(.dontWait)
    }
    return (frames, value)
  }
}
