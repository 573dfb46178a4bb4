import Farm
import Foundation
import XCTest

final class BlobStoreTests: XCTestCase {
  func testPutReadImportAndList() throws {
    let folder = TemporaryFolder("blobs")
    let store = try BlobStore(root: folder.url.appendingPathComponent("store"))
    let data = DiagnosticTasks.pseudoRandomBytes(count: 3000, seed: 1)
    let hash = try store.put(data)
    XCTAssertEqual(hash, BlobHasher.hex(of: data))
    XCTAssertEqual(store.size(of: hash), 3000)
    XCTAssertEqual(try store.data(for: hash), data)
    XCTAssertEqual(try store.read(hash, offset: 1000, count: 10), data[1000..<1010])
    let file = folder.url.appendingPathComponent("input.bin")
    let other = DiagnosticTasks.pseudoRandomBytes(count: 5_000_001, seed: 2)
    try other.write(to: file)
    let imported = try store.importFile(at: file)
    XCTAssertEqual(imported.hash, BlobHasher.hex(of: other))
    XCTAssertEqual(imported.size, 5_000_001)
    XCTAssertEqual(Set(store.allBlobs().map(\.hash)), [hash, imported.hash])
  }

  func testRejectsNamesThatAreNotHashes() throws {
    let folder = TemporaryFolder("blobs")
    let store = try BlobStore(root: folder.url)
    for bad in ["../../etc/passwd", "ABC", String(repeating: "g", count: 64), String(repeating: "A", count: 64)] {
      XCTAssertThrowsError(try store.url(for: bad)) { XCTAssertEqual($0 as? FarmError, .badBlobHash(bad)) }
      XCTAssertFalse(store.contains(bad))
    }
  }

  func testPartialBlobResumesAndChecksItsHash() throws {
    let folder = TemporaryFolder("blobs")
    let store = try BlobStore(root: folder.url)
    let data = DiagnosticTasks.pseudoRandomBytes(count: 2_500_000, seed: 3)
    let hash = BlobHasher.hex(of: data)
    do {
      let partial = try store.receive(hash, size: UInt64(data.count))
      try partial.append(data[0..<1_000_000], at: 0)
      XCTAssertThrowsError(try partial.append(data[0..<10], at: 5))  // wrong offset
    }
    // A new receiver (a restarted process) resumes where the file ends.
    let resumed = try store.receive(hash, size: UInt64(data.count))
    XCTAssertEqual(resumed.offset, 1_000_000)
    XCTAssertTrue(resumed.needsCatchUp)
    try resumed.catchUp(for: .zero)  // one slice, then more chunks arrive before the rest is hashed
    XCTAssertEqual(resumed.hashed, 256 << 10)
    try resumed.append(data[1_000_000..<2_000_000], at: 1_000_000)
    try resumed.catchUp(for: .seconds(10))
    XCTAssertFalse(resumed.needsCatchUp)
    try resumed.append(data[2_000_000...], at: 2_000_000)
    XCTAssertEqual(resumed.hashed, UInt64(data.count))
    try resumed.finish()
    XCTAssertEqual(try store.data(for: hash), data)

    // Bytes that do not match their name are refused and the partial file dropped.
    let wrong = String(repeating: "0", count: 64)
    let bad = try store.receive(wrong, size: 4)
    try bad.append(Data([1, 2, 3, 4]), at: 0)
    XCTAssertThrowsError(try bad.finish()) { error in
      guard case .hashMismatch = error as? FarmError else { return XCTFail("\(error)") }
    }
    XCTAssertFalse(store.contains(wrong))
    XCTAssertEqual(try store.receive(wrong, size: 4).offset, 0)
  }
}
