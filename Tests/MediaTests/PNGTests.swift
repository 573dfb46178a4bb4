import Foundation
import Media
import XCTest

/// Media's PNG writer, read back by FFmpeg's PNG decoder, and the box-filter reduction.
final class PNGTests: XCTestCase {
  func testFFmpegDecodesTheWrittenPNGExactly() throws {
    // Odd sizes and more than one stored deflate block (> 65 535 bytes of rows).
    for (width, height) in [(1, 1), (37, 11), (160, 150)] {
      let image = RGBImage(width: width, height: height) { x, y in (UInt8(x * 7 % 256), UInt8(y * 13 % 256), UInt8((x ^ y) % 256)) }
      let url = FileManager.default.temporaryDirectory.appendingPathComponent("redub-png-\(UUID().uuidString).png")
      defer { try? FileManager.default.removeItem(at: url) }
      try image.png().write(to: url)
      let decoded = try XCTUnwrap(try VideoReader(path: url.path).nextFrame()).image
      XCTAssertEqual(decoded, image, "\(width)×\(height)")
    }
  }

  func testScaledToFitAveragesAndKeepsTheAspect() {
    let image = RGBImage(width: 4, height: 2) { x, _ in x < 2 ? (0, 100, 200) : (10, 20, 30) }
    XCTAssertEqual(image.scaled(toFit: 8), image, "a picture that fits stays")
    let half = image.scaled(toFit: 2)
    XCTAssertEqual([half.width, half.height], [2, 1])
    XCTAssertEqual(half.pixels, [0, 100, 200, 10, 20, 30])
    let mixed = RGBImage(width: 2, height: 2) { x, y in x == y ? (255, 0, 0) : (0, 0, 0) }.scaled(toFit: 1)
    XCTAssertEqual(mixed.pixels, [128, 0, 0], "the mean of the four, rounded")
    let tall = RGBImage(width: 300, height: 1000) { _, _ in (1, 2, 3) }.scaled(toFit: 96)
    XCTAssertEqual([tall.width, tall.height], [29, 96])
  }
}
