import Foundation
import SwiftProtobuf

/// Encoding and decoding of envelopes, with the protocol version check.
public enum Wire {
  /// Control messages larger than this are refused (the socket drops the peer).
  public static let maxControlMessage: Int64 = 16 << 20
  /// Bulk chunk size, and the largest bulk message (a chunk plus its header).
  public static let chunkSize = 1 << 20
  public static let maxBulkMessage: Int64 = Int64(chunkSize) + 4096
  /// Blobs up to this size travel inside control messages.
  public static let inlineLimit = 64 << 10
  /// The largest thumbnail a progress report carries (a 96×96 PNG, stored uncompressed, is ~28 KB);
  /// a bigger one is dropped, not sent.
  public static let thumbnailLimit = 48 << 10

  /// One envelope's bytes.
  public static func encode(_ body: Redub_V1_Envelope.OneOf_Body, requestID: UInt64 = 0) -> Data {
    var envelope = Redub_V1_Envelope()
    envelope.protocolVersion = FarmProtocol.version
    envelope.requestID = requestID
    envelope.body = body
    // Serializing a message with no required fields cannot fail.
    return (try? envelope.serializedData()) ?? Data()
  }

  /// Decodes an envelope, refusing other protocol versions and empty bodies.
  public static func decode(_ data: Data) throws(FarmError) -> Redub_V1_Envelope {
    let envelope: Redub_V1_Envelope
    do {
      envelope = try Redub_V1_Envelope(serializedBytes: data)
    } catch {
      throw FarmError.wire("not a farm envelope (\(data.count) bytes): \(error)")
    }
    guard envelope.protocolVersion == FarmProtocol.version else {
      throw FarmError.wire("protocol version \(envelope.protocolVersion), this build speaks \(FarmProtocol.version); run the same redub version everywhere")
    }
    guard envelope.body != nil else { throw FarmError.wire("envelope without a body") }
    return envelope
  }

  /// A blob chunk as frames: its envelope without the bytes, then the bytes as a frame of their
  /// own, so neither side copies a megabyte through protobuf (the receiver's frame is not even
  /// copied out of ZeroMQ's buffer).
  public static func chunkFrames(_ chunk: Redub_V1_BlobChunk) -> [Data] {
    var header = chunk
    header.data = Data()
    return [encode(.blobChunk(header)), chunk.data]
  }

  /// Decodes a bulk message's frames (routing id already removed): one envelope, or a chunk's
  /// envelope and its bytes.
  public static func decodeBulk(_ frames: [Data]) throws(FarmError) -> Redub_V1_Envelope {
    guard frames.count == 1 || frames.count == 2 else { throw FarmError.wire("\(frames.count) frames") }
    var envelope = try decode(frames[0])
    if frames.count == 2 {
      guard case .blobChunk(var chunk) = envelope.body, chunk.data.isEmpty else {
        throw FarmError.wire("a second frame after a message that is not a blob chunk")
      }
      chunk.data = frames[1]
      envelope.body = .blobChunk(chunk)
    }
    return envelope
  }

  /// Milliseconds since the Unix epoch.
  static func nowMilliseconds() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}
