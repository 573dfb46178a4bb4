import Foundation
@testable import Media
import XCTest

final class VideoReaderTests: XCTestCase {
  func testSeekLandsOnTheExactFrame() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("seek.mp4")
    let written = try writeGradientClip(path: path, width: 96, height: 64, frames: 60,
                                        settings: VideoEncoderSettings(keyframeInterval: 12))
    let reader = try VideoReader(path: path)
    for target in [37, 0, 59, 12, 11, 25] {
      try reader.seek(toFrame: target)
      XCTAssertEqual(reader.nextFrameIndex, target)
      let frame = try XCTUnwrap(reader.nextFrame())
      XCTAssertEqual(frame.index, target)
      XCTAssertEqual(frame.time, Double(target) / 25, accuracy: 1e-3)
      let psnr = frame.image.psnr(against: written[target])
      XCTAssertGreaterThan(psnr, 35, "frame \(target)")
      if target > 0 { XCTAssertGreaterThan(psnr, frame.image.psnr(against: written[target - 1]) + 3, "frame \(target) vs \(target - 1)") }
    }
    // Reading goes on from the sought frame.
    try reader.seek(toFrame: 40)
    var indices: [Int] = []
    while let frame = try reader.nextFrame() { indices.append(frame.index) }
    XCTAssertEqual(indices, Array(40..<60))
    XCTAssertThrowsError(try reader.seek(toFrame: 60)) { error in
      XCTAssertEqual(error as? MediaError, .frameIndexOutOfRange(path: path, index: 60, frameCount: 60))
    }
  }

  func testVariableFrameRateKeepsEveryTimestamp() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("vfr.mp4")
    let milliseconds: [Int64] = [0, 40, 80, 200, 240, 400, 433, 466, 500, 700, 740, 780]
    let writer = try VideoWriter(path: path, width: 64, height: 48, frameRate: Rational(25, 1), timeBase: Rational(1, 1000))
    for (i, ms) in milliseconds.enumerated() { try writer.append(movingGradient(width: 64, height: 48, frame: i), pts: ms) }
    try writer.finish()
    let reader = try VideoReader(path: path)
    XCTAssertTrue(reader.info.isVariableFrameRate)
    XCTAssertEqual(reader.info.frameCount, milliseconds.count)
    var times: [Double] = []
    while let frame = try reader.nextFrame() { times.append(frame.time) }
    XCTAssertEqual(times.count, milliseconds.count)
    for (t, ms) in zip(times, milliseconds) { XCTAssertEqual(t, Double(ms) / 1000, accuracy: 1e-3) }
    let fromIndex = reader.timestamps.map { reader.info.timeBase.seconds($0) }
    for (t, u) in zip(times, fromIndex) { XCTAssertEqual(t, u, accuracy: 1e-9) }
  }

  func testRotationMetadataIsReadAndApplied() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("rotated.mp4")
    let written = try writeGradientClip(path: path, width: 64, height: 48, frames: 3, rotation: 90)
    let upright = try VideoReader(path: path)
    XCTAssertEqual(upright.info.rotation, 90)
    XCTAssertEqual(upright.info.width, 64)
    XCTAssertEqual(upright.info.displayWidth, 48)
    XCTAssertEqual(upright.info.displayHeight, 64)
    let frame = try XCTUnwrap(upright.nextFrame())
    XCTAssertEqual(frame.image.width, 48)
    XCTAssertEqual(frame.image.height, 64)
    XCTAssertGreaterThan(frame.image.psnr(against: written[0].rotated(clockwise: 90)), 33)
    let raw = try VideoReader(path: path, autorotate: false)
    let coded = try XCTUnwrap(raw.nextFrame())
    XCTAssertEqual(coded.image.width, 64)
    XCTAssertGreaterThan(coded.image.psnr(against: written[0]), 33)
  }

  func testRotatedImages() {
    let image = RGBImage(width: 3, height: 2) { x, y in (UInt8(x), UInt8(y), 0) }
    let turned = image.rotated(clockwise: 90)
    XCTAssertEqual(turned.width, 2)
    // Clockwise: the bottom-left pixel (0, 1) goes to the top-left.
    XCTAssertEqual(Array(turned.pixels[0..<2]), [0, 1])
    XCTAssertEqual(image.rotated(clockwise: 180).rotated(clockwise: 180), image)
    XCTAssertEqual(image.rotated(clockwise: 90).rotated(clockwise: 270), image)
  }

  func testOddSizesArePaddedOrRejected() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("odd.mp4")
    let written = try writeGradientClip(path: path, width: 65, height: 49, frames: 5)
    let reader = try VideoReader(path: path)
    XCTAssertEqual(reader.info.width, 66)
    XCTAssertEqual(reader.info.height, 50)
    let frame = try XCTUnwrap(reader.nextFrame())
    // The first 65×49 pixels are the picture; the added column and row repeat its edge.
    var cropped = [UInt8]()
    for y in 0..<49 { cropped += frame.image.pixels[(3 * y * 66)..<(3 * (y * 66 + 65))] }
    XCTAssertGreaterThan(RGBImage(width: 65, height: 49, pixels: cropped).psnr(against: written[0]), 33)
    let rejected = dir.path("rejected.mp4")
    let error = assertMediaError(try VideoWriter(path: rejected, width: 65, height: 48, frameRate: Rational(25, 1),
                                                 settings: VideoEncoderSettings(oddSize: .reject)), path: rejected)
    if case .invalidDimensions(_, 65, 48, _)? = error {} else { XCTFail("\(String(describing: error))") }
    XCTAssertFalse(FileManager.default.fileExists(atPath: rejected))
  }

  func testWriterIsAtomicAndChecksFrames() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("atomic.mp4")
    do {
      let writer = try VideoWriter(path: path, width: 64, height: 48, frameRate: Rational(25, 1))
      try writer.append(movingGradient(width: 64, height: 48, frame: 0))
      XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing under the final name before finish()")
      let partial = try FileManager.default.contentsOfDirectory(atPath: dir.url.path)
      XCTAssertEqual(partial.count, 1)
      XCTAssertTrue(partial[0].hasPrefix(".atomic.mp4.partial-"), partial[0])
      assertMediaError(try writer.append(movingGradient(width: 32, height: 48, frame: 1)), path: path)
      // Dropped unfinished (as in a crash of the caller): the temporary file goes away.
    }
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path), [])
    let writer = try VideoWriter(path: path, width: 64, height: 48, frameRate: Rational(25, 1))
    try writer.append(movingGradient(width: 64, height: 48, frame: 0), pts: 5)
    assertMediaError(try writer.append(movingGradient(width: 64, height: 48, frame: 1), pts: 5), path: path)
    // A refused frame leaves the writer usable.
    try writer.append(movingGradient(width: 64, height: 48, frame: 1), pts: 6)
    try writer.finish()
    XCTAssertEqual(try VideoReader(path: path).info.frameCount, 2)
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path), ["atomic.mp4"])
    assertMediaError(try writer.finish(), path: path)
  }

  func testTensorFramesRoundTrip() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("tensor.mp4")
    let image = movingGradient(width: 64, height: 48, frame: 0)
    XCTAssertEqual(RGBImage(tensor: image.tensor()), image)
    let writer = try VideoWriter(path: path, width: 64, height: 48, frameRate: Rational(25, 1))
    try writer.append(image.tensor())
    try writer.finish()
    let frame = try XCTUnwrap(try VideoReader(path: path).nextFrame())
    XCTAssertEqual(frame.tensor().shape, [1, 3, 48, 64])
    XCTAssertGreaterThan(frame.image.psnr(against: image), 35)
  }
}
