import CZeroMQ

/// A CURVE long-term key pair as 40-character Z85 text, the form config files and env vars carry.
public struct CurveKeyPair: Equatable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
  public let publicKey: String
  public let secretKey: String

  /// Whether the linked libzmq was built with CURVE (libsodium or tweetnacl).
  public static var isSupported: Bool { zmq_has("curve") != 0 }

  /// A fresh random key pair from `zmq_curve_keypair`.
  public static func generate() throws(ZMQError) -> CurveKeyPair {
    var publicText = [CChar](repeating: 0, count: 41)
    var secretText = [CChar](repeating: 0, count: 41)
    if zmq_curve_keypair(&publicText, &secretText) != 0 {
      throw ZMQError.last("zmq_curve_keypair")
    }
    return CurveKeyPair(publicKey: text(publicText), secretKey: text(secretText))
  }

  /// Rebuilds the pair from a stored secret key by deriving its public key.
  public init(secretKey: String) throws(ZMQError) {
    guard CurveKeyPair.isZ85Key(secretKey) else {
      throw ZMQError.invalidArgument("a CURVE secret key is 40 Z85 characters")
    }
    var publicText = [CChar](repeating: 0, count: 41)
    if zmq_curve_public(&publicText, secretKey) != 0 {
      throw ZMQError.last("zmq_curve_public")
    }
    self.init(publicKey: CurveKeyPair.text(publicText), secretKey: secretKey)
  }

  private init(publicKey: String, secretKey: String) {
    self.publicKey = publicKey
    self.secretKey = secretKey
  }

  /// Shows the public key only, so logging a key pair never leaks the secret.
  public var description: String { "CurveKeyPair(public: \(publicKey), secret: <redacted>)" }
  public var debugDescription: String { description }

  /// True for exactly 40 characters of the Z85 alphabet (32 key bytes).
  static func isZ85Key(_ text: String) -> Bool {
    let utf8 = text.utf8
    return utf8.count == 40 && utf8.allSatisfy(z85Alphabet.contains)
  }

  private static let z85Alphabet = Set(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

  private static func text(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }
}
