import Foundation
@testable import Media
import XCTest

/// Decoding streams: resident memory after many frames is what it was after a few.
final class MemoryTests: XCTestCase {
  /// VmRSS of this process in bytes (Linux).
  static func residentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
      let kb = line.split(separator: " ").compactMap { Int($0) }.first
      return kb.map { $0 * 1024 }
    }
    return nil
  }

  func testDecodingMemoryStaysFlat() throws {
    guard Self.residentBytes() != nil else { throw XCTSkip("no /proc/self/status") }
    let dir = TemporaryDirectory()
    let path = dir.path("long.mp4")
    // 240 frames of 640×360: holding them all would take 240 × 691 KB = 166 MB.
    let width = 640, height = 360, frames = 240
    let writer = try VideoWriter(path: path, width: width, height: height, frameRate: Rational(25, 1),
                                 settings: VideoEncoderSettings(preset: "ultrafast"))
    let base = movingGradient(width: width, height: height, frame: 0)
    for i in 0..<frames {
      var image = base
      image.pixels.withUnsafeMutableBufferPointer { p in for k in stride(from: i % 3, to: p.count, by: 97) { p[k] &+= UInt8(i) } }
      try writer.append(image)
    }
    try writer.finish()
    let reader = try VideoReader(path: path)
    var after20 = 0, count = 0
    while let frame = try reader.nextFrame() {
      count += 1
      XCTAssertEqual(frame.image.width, width)
      if count == 20 { after20 = Self.residentBytes()! }
    }
    let atEnd = Self.residentBytes()!
    XCTAssertEqual(count, frames)
    let growth = atEnd - after20
    print("decode 640×360 × \(frames): RSS after 20 frames \(after20 >> 20) MiB, at the end \(atEnd >> 20) MiB")
    XCTAssertLessThan(growth, 24 << 20, "RSS grew by \(growth >> 20) MiB over \(frames - 20) frames")
  }
}
