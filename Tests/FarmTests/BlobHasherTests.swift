@testable import Farm
import Foundation
import XCTest

final class BlobHasherTests: XCTestCase {
  func testKnownVectors() {
    XCTAssertEqual(BlobHasher.hex(of: Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    XCTAssertEqual(BlobHasher.hex(of: Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    XCTAssertEqual(
      BlobHasher.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    XCTAssertEqual(BlobHasher.hex(of: Data(repeating: UInt8(ascii: "a"), count: 1_000_000)),
                   "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  func testStreamingInOddPiecesMatchesOneShot() {
    let data = DiagnosticTasks.pseudoRandomBytes(count: 10_007, seed: 9)
    let expected = BlobHasher.hex(of: data)
    for piece in [1, 3, 55, 63, 64, 65, 127, 1000] {
      var hasher = BlobHasher()
      var offset = 0
      while offset < data.count {
        let end = min(offset + piece, data.count)
        hasher.update(data[offset..<end])
        offset = end
      }
      XCTAssertEqual(hasher.finalizeHex(), expected, "piece size \(piece)")
    }
  }
}
