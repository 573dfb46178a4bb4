import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A libzmq context: the I/O threads every socket runs on. Terminated when the last reference goes.
///
/// `@unchecked Sendable` because libzmq documents contexts as thread-safe: any thread may create
/// sockets in one or shut it down. Sockets keep their context alive, so `deinit` runs only after
/// every socket has closed.
public final class ZMQContext: @unchecked Sendable {
  let handle: UnsafeMutableRawPointer

  /// Creates a context.
  ///
  /// - Parameters:
  ///   - ioThreads: libzmq I/O threads; one handles about a gigabyte per second.
  ///   - blocky: when false (the default) new sockets get ZMQ_LINGER 0, so dropping the context
  ///     never hangs on messages to a vanished peer. Sockets that must flush set `.linger` themselves.
  public init(ioThreads: Int = 1, blocky: Bool = false) throws(ZMQError) {
    guard let handle = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
    self.handle = handle
    if zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(ioThreads)) != 0 {
      throw ZMQError.last("zmq_ctx_set(ZMQ_IO_THREADS)")
    }
    if zmq_ctx_set(handle, ZMQ_BLOCKY, blocky ? 1 : 0) != 0 {
      throw ZMQError.last("zmq_ctx_set(ZMQ_BLOCKY)")
    }
  }

  /// Makes every blocking call on this context's sockets, in any thread, fail with
  /// `.contextTerminated`, so threads parked in receive or poll can exit.
  public func shutdown() {
    _ = zmq_ctx_shutdown(handle)
  }

  deinit {
    // zmq_ctx_term may be interrupted by a signal before it finishes; it must be called again.
    while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
  }
}
