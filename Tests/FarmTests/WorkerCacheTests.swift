@testable import Farm
import Foundation
import XCTest

final class WorkerCacheTests: XCTestCase {
  func testEvictsLeastRecentlyUsedButNeverPinnedBlobs() throws {
    let folder = TemporaryFolder("cache")
    let cache = try WorkerCache(root: folder.url, limit: 3000)
    let blobs = [10, 20, 30].map { DiagnosticTasks.pseudoRandomBytes(count: 1000, seed: UInt64($0)) }
    let hashes = try blobs.map { try cache.put($0) }
    XCTAssertEqual(Set(hashes).count, 3)
    usleep(10_000)
    cache.touch(hashes[0])
    cache.pinned = [hashes[1]]
    // A fourth blob overflows the limit: the least recently used unpinned one (the third) goes.
    let fourth = try cache.put(DiagnosticTasks.pseudoRandomBytes(count: 1000, seed: 40))
    XCTAssertTrue(cache.contains(hashes[0]))
    XCTAssertTrue(cache.contains(hashes[1]), "a pinned blob was evicted")
    XCTAssertFalse(cache.contains(hashes[2]))
    XCTAssertTrue(cache.contains(fourth))
    XCTAssertEqual(cache.evicted, [hashes[2]])
    XCTAssertEqual(cache.bytes, 3000)
    // A restarted worker finds its cache again.
    XCTAssertEqual(Set(try WorkerCache(root: folder.url, limit: 3000).hashes), [hashes[0], hashes[1], fourth])
  }
}
