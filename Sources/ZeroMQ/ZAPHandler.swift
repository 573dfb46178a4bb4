import CZeroMQ
import Foundation
import Synchronization

/// A ZAP (ZeroMQ Authentication Protocol, RFC 27) handler admitting CURVE clients whose public
/// key is in an allowlist, for one security domain.
///
/// libzmq asks the handler bound at `inproc://zeromq.zap.01` of the socket's context about
/// every new connection of a socket that has a ZAP domain. libzmq 4.3's stable API cannot make
/// libzmq reject a domain no handler claims (ZMQ_ZAP_ENFORCE_DOMAIN is draft), so this handler
/// checks the domain itself and refuses every other one. The admitted key becomes the
/// connection's "User-Id" metadata (see `receiveMultipartData(property:)`).
public final class ZAPHandler: Sendable {
  /// The domain admitted; requests for any other are refused.
  public let domain: String
  private let allowed: Mutex<Set<String>>
  private let stopping = Atomic<Bool>(false)
  private let finished = Mutex<Bool>(false)
  private let context: ZMQContext
  private let log: @Sendable (String) -> Void

  /// Starts the handler on `context`'s ZAP endpoint; it serves until `stop()`.
  ///
  /// - Parameters:
  ///   - allowedKeys: Z85 public keys (40 characters) to admit.
  ///   - log: receives one line per refused connection.
  public init(
    context: ZMQContext, domain: String, allowedKeys: Set<String>, log: @escaping @Sendable (String) -> Void = { _ in }
  ) throws(ZMQError) {
    self.context = context
    self.domain = domain
    self.allowed = Mutex(allowedKeys)
    self.log = log
    let socket = try ZMQSocket(context, type: .rep)
    try socket.bind("inproc://zeromq.zap.01")
    try socket.set(.receiveTimeout, 100)
    nonisolated(unsafe) let owned = socket
    let thread = Thread { [self] in self.serve(owned) }
    thread.name = "zap"
    thread.start()
  }

  /// Replaces the allowlist; connections already admitted stay (the caller drops revoked peers).
  public func setAllowedKeys(_ keys: Set<String>) {
    allowed.withLock { $0 = keys }
  }

  public var allowedKeys: Set<String> { allowed.withLock { $0 } }

  /// Stops serving and waits (up to a second) for the handler thread to close its socket.
  public func stop() {
    stopping.store(true, ordering: .relaxed)
    for _ in 0..<100 where !finished.withLock({ $0 }) { usleep(10_000) }
  }

  private func serve(_ socket: ZMQSocket) {
    defer { finished.withLock { $0 = true } }
    while !stopping.load(ordering: .relaxed) {
      let request: [[UInt8]]
      do {
        request = try socket.receiveMultipart()
      } catch let error where error.isTimeout {
        continue
      } catch {
        return
      }
      let reply = answer(request)
      do { try socket.sendMultipart(reply) } catch { return }
    }
  }

  /// The reply frames for one request: version, request id, status code, text, user id, metadata.
  func answer(_ frames: [[UInt8]]) -> [[UInt8]] {
    guard frames.count >= 6 else {
      return [Array("1.0".utf8), frames.count > 1 ? frames[1] : [], Array("500".utf8), Array("malformed ZAP request".utf8), [], []]
    }
    let requestID = frames[1]
    func reply(_ code: String, _ text: String, user: String = "") -> [[UInt8]] {
      [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), Array(user.utf8), []]
    }
    let version = String(decoding: frames[0], as: UTF8.self)
    let requestDomain = String(decoding: frames[2], as: UTF8.self)
    let address = String(decoding: frames[3], as: UTF8.self)
    let mechanism = String(decoding: frames[5], as: UTF8.self)
    guard version == "1.0" else { return reply("500", "unsupported ZAP version") }
    guard requestDomain == domain else {
      log("ZAP: refused \(address): domain '\(requestDomain)' is not '\(domain)'")
      return reply("400", "domain not served")
    }
    guard mechanism == "CURVE", frames.count >= 7, frames[6].count == 32 else {
      log("ZAP: refused \(address): mechanism \(mechanism) (only CURVE is admitted)")
      return reply("400", "CURVE required")
    }
    let key = ZAPHandler.z85(frames[6])
    guard allowed.withLock({ $0.contains(key) }) else {
      log("ZAP: refused \(address): key \(key) is not in the allowlist")
      return reply("400", "key not allowed")
    }
    return reply("200", "OK", user: key)
  }

  /// Z85 text of a 32-byte key.
  static func z85(_ bytes: [UInt8]) -> String {
    var text = [CChar](repeating: 0, count: 41)
    _ = bytes.withUnsafeBufferPointer { zmq_z85_encode(&text, $0.baseAddress, 32) }
    return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
