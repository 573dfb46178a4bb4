import Foundation
@testable import Media
import XCTest

final class VideoRoundTripTests: XCTestCase {
  func testRoundTripKeepsFramesTimestampsAndQuality() throws {
    let dir = TemporaryDirectory()
    for (rate, size) in [(Rational(25, 1), (64, 48)), (Rational(24, 1), (160, 120)), (Rational(30000, 1001), (320, 240))] {
      let path = dir.path("gradient-\(rate.numerator)-\(rate.denominator).mp4")
      let written = try writeGradientClip(path: path, width: size.0, height: size.1, frames: 30, frameRate: rate)
      let reader = try VideoReader(path: path)
      XCTAssertEqual(reader.info.frameCount, 30, "\(rate)")
      XCTAssertEqual(reader.info.width, size.0)
      XCTAssertEqual(reader.info.height, size.1)
      XCTAssertEqual(reader.info.codec, FFmpegLibraries.hasEncoder(named: "libx264") ? "h264" : "mpeg4")
      XCTAssertEqual(reader.info.frameRate, rate)
      XCTAssertFalse(reader.info.isVariableFrameRate)
      XCTAssertEqual(reader.info.duration, 30 / rate.doubleValue, accuracy: 1e-3)
      var count = 0
      var worst = Double.infinity
      while let frame = try reader.nextFrame() {
        XCTAssertEqual(frame.index, count)
        // Timestamps: frame i at i / fps, to the container's tick.
        XCTAssertEqual(frame.time, Double(count) / rate.doubleValue, accuracy: 1e-3, "\(rate) frame \(count)")
        worst = min(worst, frame.image.psnr(against: written[count]))
        count += 1
      }
      XCTAssertEqual(count, 30)
      XCTAssertGreaterThanOrEqual(worst, 35, "\(rate) \(size): worst PSNR \(worst) dB")
      print("round trip \(size.0)×\(size.1) @ \(rate): worst PSNR \(String(format: "%.2f", worst)) dB")
      // The fast chroma path gives the same frames, a little blockier in colour.
      let fast = try VideoReader(path: path, chroma: .nearest)
      var fastCount = 0
      while let frame = try fast.nextFrame() {
        XCTAssertGreaterThan(frame.image.psnr(against: written[fastCount]), 30)
        fastCount += 1
      }
      XCTAssertEqual(fastCount, 30)
    }
  }
}
