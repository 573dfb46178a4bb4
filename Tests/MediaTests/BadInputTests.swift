import Foundation
@testable import Media
import XCTest

/// Broken and unexpected files: each is a `MediaError` naming the file, never a crash.
final class BadInputTests: XCTestCase {
  func testMissingFile() {
    let path = "/nonexistent/redub/clip.mp4"
    XCTAssertEqual(assertMediaError(try VideoReader(path: path), path: path), .fileNotFound(path: path))
    XCTAssertEqual(assertMediaError(try AudioReader(path: path), path: path), .fileNotFound(path: path))
  }

  func testTextFileNamedMP4() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("notes.mp4")
    try Data("these are meeting notes, not a video\n".utf8).write(to: URL(fileURLWithPath: path))
    let error = assertMediaError(try VideoReader(path: path), path: path)
    guard case .cannotOpen(_, let cause)? = error else { return XCTFail("\(String(describing: error))") }
    XCTAssertLessThan(cause.code, 0)
    XCTAssertTrue(error!.description.contains("not a media file"), error!.description)
    assertMediaError(try AudioReader(path: path), path: path)
  }

  func testZeroLengthFileAndClip() throws {
    let dir = TemporaryDirectory()
    let empty = dir.path("empty.mp4")
    XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
    assertMediaError(try VideoReader(path: empty), path: empty)
    // A well-formed AVI file whose video stream has no frame (MP4 drops empty tracks, and
    // FFmpeg cannot read the header of a Matroska file without a cluster).
    let noFrames = dir.path("no-frames.avi")
    let writer = try VideoWriter(path: noFrames, width: 64, height: 48, frameRate: Rational(25, 1))
    writer.allowsEmptyOutput = true
    try writer.finish()
    XCTAssertEqual(assertMediaError(try VideoReader(path: noFrames), path: noFrames), .emptyVideo(path: noFrames))
    // Writers refuse to make one.
    let refused = dir.path("refused.mp4")
    assertMediaError(try VideoWriter(path: refused, width: 64, height: 48, frameRate: Rational(25, 1)).finish(), path: refused)
    XCTAssertFalse(FileManager.default.fileExists(atPath: refused))
  }

  func testTruncatedFiles() throws {
    let dir = TemporaryDirectory()
    // Index first (fast start): the header announces frames the file no longer holds.
    let indexed = dir.path("indexed.mp4")
    try writeGradientClip(path: indexed, width: 160, height: 120, frames: 40)
    let data = try Data(contentsOf: URL(fileURLWithPath: indexed))
    try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: indexed))
    let error = assertMediaError(try VideoReader(path: indexed), path: indexed)
    switch error {
    case .truncated(_, 40, let readable)?: XCTAssertLessThan(readable, 40)
    case .readFailed?: break
    default: XCTFail("expected truncated, got \(String(describing: error))")
    }
    // Index last: a cut file has no index at all.
    let trailing = dir.path("trailing.mp4")
    try writeGradientClip(path: trailing, width: 160, height: 120, frames: 40, settings: VideoEncoderSettings(fastStart: false))
    let whole = try Data(contentsOf: URL(fileURLWithPath: trailing))
    try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: trailing))
    if case .cannotOpen? = assertMediaError(try VideoReader(path: trailing), path: trailing) {} else { XCTFail("expected cannotOpen") }
  }

  func testVideoWithoutAudioAndAudioWithoutVideo() throws {
    let dir = TemporaryDirectory()
    let silent = dir.path("silent.mp4"), sound = dir.path("sound.wav")
    try writeGradientClip(path: silent, width: 64, height: 48, frames: 5)
    try AudioWriter.write(AudioBuffer(samples: tone(seconds: 0.2, sampleRate: 16000), sampleRate: 16000), to: sound)
    XCTAssertEqual(assertMediaError(try AudioReader(path: silent), path: silent), .noAudioStream(path: silent))
    XCTAssertEqual(assertMediaError(try VideoReader(path: sound), path: sound), .noVideoStream(path: sound))
    let out = dir.path("out.mp4")
    XCTAssertEqual(assertMediaError(try VideoRemuxer.remux(video: silent, audio: .file(silent), output: out), path: silent),
                   .noAudioStream(path: silent))
    XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.url.path).sorted(), ["silent.mp4", "sound.wav"])
  }

  func testUnsupportedPixelFormats() throws {
    let dir = TemporaryDirectory()
    // The encoder cannot take it: the error lists what it can.
    let path = dir.path("pal.mp4")
    let error = assertMediaError(try VideoWriter(path: path, width: 64, height: 48, frameRate: Rational(25, 1),
                                                 settings: VideoEncoderSettings(pixelFormat: "pal8")), path: path)
    guard case .unsupportedPixelFormat(_, "pal8", let supported)? = error else { return XCTFail("\(String(describing: error))") }
    XCTAssertTrue(supported.contains("yuv420p"))
    assertMediaError(try VideoWriter(path: path, width: 64, height: 48, frameRate: Rational(25, 1),
                                     settings: VideoEncoderSettings(pixelFormat: "no-such-format")), path: path)
    // A file whose frames libswscale cannot read (4-bit packed RGB in NUT).
    let rgb4 = dir.path("rgb4.nut")
    try writeGradientClip(path: rgb4, width: 64, height: 48, frames: 2, settings: VideoEncoderSettings(codec: "rawvideo", pixelFormat: "rgb4"))
    XCTAssertEqual(assertMediaError(try VideoReader(path: rgb4), path: rgb4),
                   .unsupportedPixelFormat(path: rgb4, format: "rgb4", supported: []))
  }

  func testUnknownOutputExtensionAndDirectory() {
    let bad = "/tmp/clip.redub-unknown-extension"
    assertMediaError(try VideoWriter(path: bad, width: 64, height: 48, frameRate: Rational(25, 1)), path: bad)
    let nowhere = "/nonexistent-dir/out.mp4"
    assertMediaError(try VideoWriter(path: nowhere, width: 64, height: 48, frameRate: Rational(25, 1)), path: nowhere)
  }
}
