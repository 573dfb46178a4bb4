import Crypto
import Foundation

/// Names blobs: the SHA-256 of their bytes as 64 lowercase hex digits. Streaming: `update` any
/// number of times, then `finalizeHex`.
///
/// swift-crypto's SHA-256 runs BoringSSL's code, which uses the CPU's SHA extensions (SHA-NI)
/// where present; a transfer hashes as it receives, so this bounds one stream's throughput.
public struct BlobHasher: Sendable {
  private var hasher = Crypto.SHA256()

  public init() {}

  /// Adds bytes to the message.
  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    hasher.update(bufferPointer: bytes)
  }

  /// Adds bytes to the message.
  public mutating func update<Bytes: ContiguousBytes>(_ bytes: Bytes) {
    bytes.withUnsafeBytes { hasher.update(bufferPointer: $0) }
  }

  /// The digest of everything added, as hex.
  public func finalizeHex() -> String {
    BlobHasher.hex(digest: hasher.finalize())
  }

  /// The hex SHA-256 of `bytes`.
  public static func hex<Bytes: ContiguousBytes>(of bytes: Bytes) -> String {
    var hasher = BlobHasher()
    hasher.update(bytes)
    return hasher.finalizeHex()
  }

  private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

  static func hex(digest: SHA256Digest) -> String {
    digest.withUnsafeBytes { bytes in
      String(unsafeUninitializedCapacity: bytes.count * 2) { out in
        for (index, byte) in bytes.enumerated() {
          out[2 * index] = digits[Int(byte >> 4)]
          out[2 * index + 1] = digits[Int(byte & 0x0f)]
        }
        return bytes.count * 2
      }
    }
  }
}
