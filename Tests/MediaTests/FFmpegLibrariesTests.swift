import Media
import XCTest

final class FFmpegLibrariesTests: XCTestCase {
  func testVersionsAreDecodedAndNonZero() {
    let versions = FFmpegLibraries.versions
    XCTAssertEqual(versions.map(\.library),
                   ["libavformat", "libavcodec", "libavutil", "libswscale", "libswresample"])
    for (library, version) in versions {
      let parts = version.split(separator: ".").compactMap { Int($0) }
      XCTAssertEqual(parts.count, 3, "\(library) version \(version) is not major.minor.micro")
      XCTAssertGreaterThan(parts.first ?? 0, 0, "\(library) major version")
    }
    XCTAssertFalse(FFmpegLibraries.ffmpegVersion.isEmpty)
    XCTAssertNotEqual(FFmpegLibraries.ffmpegVersion, "unknown")
    XCTAssertTrue(FFmpegLibraries.summary.contains(FFmpegLibraries.avcodecVersion))
  }

  func testCommonDecodersExist() {
    XCTAssertTrue(FFmpegLibraries.hasDecoder(named: "h264"))
    XCTAssertTrue(FFmpegLibraries.hasDecoder(named: "aac"))
    XCTAssertFalse(FFmpegLibraries.hasDecoder(named: "no-such-codec-redub"))
  }

  func testEncoderProbe() {
    // libx264 depends on how FFmpeg was built; report it rather than require it.
    let hasX264 = FFmpegLibraries.hasEncoder(named: "libx264")
    print("FFmpeg \(FFmpegLibraries.ffmpegVersion): libx264 encoder \(hasX264 ? "available" : "missing")")
    XCTAssertTrue(FFmpegLibraries.hasEncoder(named: "aac"))
    XCTAssertFalse(FFmpegLibraries.hasEncoder(named: "no-such-codec-redub"))
  }

  func testEndOfFileErrorIsReadable() {
    let eof = FFmpegError(code: FFmpegError.endOfFileCode, operation: "av_read_frame")
    XCTAssertTrue(eof.isEndOfFile)
    XCTAssertFalse(eof.isTryAgain)
    XCTAssertEqual(eof.message, "End of file")
    XCTAssertEqual(eof.description, "av_read_frame: End of file (AVERROR \(FFmpegError.endOfFileCode))")
    XCTAssertThrowsError(try FFmpegError.check(FFmpegError.endOfFileCode, "av_read_frame")) { error in
      XCTAssertEqual(error as? FFmpegError, eof)
    }
    XCTAssertEqual(try FFmpegError.check(3, "ok"), 3)
  }
}
