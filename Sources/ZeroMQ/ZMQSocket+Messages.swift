import CZeroMQ
import Foundation

extension ZMQSocket {
  /// Sends one frame; with `.sendMore` it is not the last frame of its message.
  public func send(_ frame: [UInt8], flags: ZMQFlags = []) throws(ZMQError) {
    let result = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags.rawValue) }
    try check(result, "zmq_send")
  }

  /// Sends one frame from `Data`.
  public func send(_ frame: Data, flags: ZMQFlags = []) throws(ZMQError) {
    let result = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags.rawValue) }
    try check(result, "zmq_send")
  }

  /// Sends every frame as one message; peers receive all frames or none.
  public func sendMultipart(_ frames: [[UInt8]], flags: ZMQFlags = []) throws(ZMQError) {
    try sendFrames(frames.count, flags) { index, frameFlags throws(ZMQError) in
      try send(frames[index], flags: frameFlags)
    }
  }

  /// Sends every `Data` frame as one message.
  public func sendMultipart(_ frames: [Data], flags: ZMQFlags = []) throws(ZMQError) {
    try sendFrames(frames.count, flags) { index, frameFlags throws(ZMQError) in
      try send(frames[index], flags: frameFlags)
    }
  }

  /// Receives one frame; check `int(.receiveMore)` or use `receiveMultipart` for the rest.
  public func receive(flags: ZMQFlags = []) throws(ZMQError) -> [UInt8] {
    try receiveFrame(flags) { Array($0) }.frame
  }

  /// Receives one frame as `Data` (a large frame without copying its bytes).
  public func receiveData(flags: ZMQFlags = []) throws(ZMQError) -> Data {
    let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
    defer { message.deallocate() }
    zmq_msg_init(message)
    defer { zmq_msg_close(message) }
    try check(zmq_msg_recv(message, handle, flags.rawValue), "zmq_msg_recv")
    return ZMQSocket.takeData(message)
  }

  /// Frames at least this large are handed over without a copy (`takeData`).
  static let zeroCopyBytes = 64 << 10

  /// The message's bytes as `Data`, leaving `message` empty. A large message is not copied:
  /// the `Data` keeps libzmq's buffer (in a message of its own, closed when the `Data` goes),
  /// which saves a copy of every bulk chunk.
  static func takeData(_ message: UnsafeMutablePointer<zmq_msg_t>) -> Data {
    let size = zmq_msg_size(message)
    guard size >= zeroCopyBytes else { return Data(bytes: zmq_msg_data(message), count: size) }
    let kept = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
    zmq_msg_init(kept)
    guard zmq_msg_move(kept, message) == 0, let bytes = zmq_msg_data(kept) else {
      zmq_msg_close(kept)
      kept.deallocate()
      return Data(bytes: zmq_msg_data(message), count: size)
    }
    let address = UInt(bitPattern: kept)
    return Data(bytesNoCopy: bytes, count: size, deallocator: .custom { _, _ in
      let kept = UnsafeMutablePointer<zmq_msg_t>(bitPattern: address)!
      zmq_msg_close(kept)
      kept.deallocate()
    })
  }

  /// Receives all frames of the next message.
  public func receiveMultipart(flags: ZMQFlags = []) throws(ZMQError) -> [[UInt8]] {
    try receiveFrames(flags) { Array($0) }
  }

  /// Receives all frames of the next message as `Data`.
  public func receiveMultipartData(flags: ZMQFlags = []) throws(ZMQError) -> [Data] {
    let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
    defer { message.deallocate() }
    var frames: [Data] = []
    var frameFlags = flags
    while true {
      zmq_msg_init(message)
      defer { zmq_msg_close(message) }
      try check(zmq_msg_recv(message, handle, frameFlags.rawValue), "zmq_msg_recv")
      let more = zmq_msg_more(message) != 0
      frames.append(ZMQSocket.takeData(message))
      if !more { break }
      // The rest of a message arrives with its first frame, so only the first may wait or time out.
      frameFlags.remove(.dontWait)
    }
    return frames
  }

  private func sendFrames(
    _ count: Int, _ flags: ZMQFlags, _ sendOne: (Int, ZMQFlags) throws(ZMQError) -> Void
  ) throws(ZMQError) {
    guard count > 0 else { throw ZMQError.invalidArgument("a message needs at least one frame") }
    for index in 0..<count {
      var frameFlags = flags
      if index < count - 1 { frameFlags.insert(.sendMore) }
      try sendOne(index, frameFlags)
    }
  }

  private func receiveFrames<Frame>(
    _ flags: ZMQFlags, _ copy: (UnsafeRawBufferPointer) -> Frame
  ) throws(ZMQError) -> [Frame] {
    var (frame, more) = try receiveFrame(flags, copy)
    var frames = [frame]
    // The rest of a message arrives with its first frame, so only the first may wait or time out.
    var restFlags = flags
    restFlags.remove(.dontWait)
    while more {
      (frame, more) = try receiveFrame(restFlags, copy)
      frames.append(frame)
    }
    return frames
  }

  /// Receives into a zmq_msg_t, which avoids guessing a buffer size, and copies the bytes out.
  private func receiveFrame<Frame>(
    _ flags: ZMQFlags, _ copy: (UnsafeRawBufferPointer) -> Frame
  ) throws(ZMQError) -> (frame: Frame, more: Bool) {
    // Heap storage gives the message a fixed address; libzmq may point into it.
    let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
    defer { message.deallocate() }
    zmq_msg_init(message)
    defer { zmq_msg_close(message) }
    try check(zmq_msg_recv(message, handle, flags.rawValue), "zmq_msg_recv")
    let bytes = UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message))
    return (copy(bytes), zmq_msg_more(message) != 0)
  }
}
