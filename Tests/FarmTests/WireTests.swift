import Farm
import Foundation
import XCTest

final class WireTests: XCTestCase {
  func testAChunksBytesTravelAsAFrameOfTheirOwn() throws {
    let bytes = DiagnosticTasks.pseudoRandomBytes(count: 100_000, seed: 4)
    let chunk = Redub_V1_BlobChunk.with { $0.transferID = 9; $0.offset = 1 << 20; $0.data = bytes; $0.last = true }
    let frames = Wire.chunkFrames(chunk)
    XCTAssertEqual(frames.count, 2)
    XCTAssertLessThan(frames[0].count, 64, "the envelope carries no bytes")
    XCTAssertEqual(frames[1], bytes)
    guard case .blobChunk(let decoded) = try Wire.decodeBulk(frames).body else { return XCTFail("not a chunk") }
    XCTAssertEqual(decoded, chunk)
    // Every other bulk message is one frame; a second frame after one is refused.
    let credit = Wire.encode(.blobCredit(.with { $0.transferID = 9; $0.credit = 1 }))
    guard case .blobCredit = try Wire.decodeBulk([credit]).body else { return XCTFail("not a credit") }
    XCTAssertThrowsError(try Wire.decodeBulk([credit, bytes]))
    XCTAssertThrowsError(try Wire.decodeBulk([frames[0], bytes, bytes]))
    XCTAssertThrowsError(try Wire.decodeBulk([]))
  }
}
