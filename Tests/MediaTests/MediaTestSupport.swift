import Foundation
@testable import Media
import XCTest

/// A directory under the system's temporary directory, removed at deinit.
final class TemporaryDirectory {
  let url: URL

  init() {
    url = FileManager.default.temporaryDirectory.appendingPathComponent("redub-media-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  }

  deinit { try? FileManager.default.removeItem(at: url) }

  func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// A smooth colour gradient that moves `frame` pixels right and down: every frame differs, and
/// its content is the kind (smooth, moving) video encoders are tuned for.
func movingGradient(width: Int, height: Int, frame: Int) -> RGBImage {
  RGBImage(width: width, height: height) { x, y in
    let fx = Double(x + 2 * frame) / Double(width), fy = Double(y + frame) / Double(height)
    let r = 128 + 100 * sin(2 * Double.pi * fx)
    let g = 128 + 100 * cos(2 * Double.pi * fy)
    let b = 128 + 90 * sin(2 * Double.pi * (fx + fy) * 0.5)
    return (UInt8(r), UInt8(g), UInt8(b))
  }
}

/// Writes `frames` moving-gradient frames and returns the images written.
@discardableResult
func writeGradientClip(path: String, width: Int, height: Int, frames: Int, frameRate: Rational = Rational(25, 1),
                       settings: VideoEncoderSettings = VideoEncoderSettings(), audio: AudioTrack = .none,
                       rotation: Int = 0) throws -> [RGBImage] {
  let writer = try VideoWriter(path: path, width: width, height: height, frameRate: frameRate,
                               settings: settings, audio: audio, rotation: rotation)
  var images: [RGBImage] = []
  for i in 0..<frames {
    let image = movingGradient(width: width, height: height, frame: i)
    try writer.append(image)
    images.append(image)
  }
  try writer.finish()
  return images
}

/// A sine tone (with a slow second partial) as mono samples.
func tone(seconds: Double, sampleRate: Int, frequency: Double = 440, amplitude: Float = 0.5) -> [Float] {
  let n = Int(seconds * Double(sampleRate))
  return (0..<n).map { i in
    let t = Double(i) / Double(sampleRate)
    return amplitude * Float(sin(2 * .pi * frequency * t) * 0.8 + sin(2 * .pi * 3.5 * frequency * t) * 0.2)
  }
}

/// Asserts that `body` throws a `MediaError` naming `path`, and returns it.
@discardableResult
func assertMediaError<T>(_ body: @autoclosure () throws -> T, path: String, file: StaticString = #filePath,
                         line: UInt = #line) -> MediaError? {
  do {
    _ = try body()
    XCTFail("expected a MediaError for \(path)", file: file, line: line)
    return nil
  } catch let error as MediaError {
    XCTAssertEqual(error.path, path, file: file, line: line)
    XCTAssertTrue(error.description.contains(path), "\(error) does not name the file", file: file, line: line)
    return error
  } catch {
    XCTFail("expected a MediaError, got \(error)", file: file, line: line)
    return nil
  }
}
