import Foundation
import XCTest

/// `redub tools probe|mfcc|remux` and `redub bench media`, run as a user would.
final class MediaToolsTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent("redub-cli-media-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  func redub(_ arguments: [String]) throws -> (status: Int32, output: String) { try CLITests.redub(arguments) }

  /// A 16-bit mono WAV file of a 440 Hz tone.
  func writeTone(_ name: String, seconds: Double, rate: Int = 16000) throws -> String {
    let count = Int(seconds * Double(rate))
    var data = Data()
    func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
    data.append(contentsOf: Array("RIFF".utf8)); append(UInt32(36 + 2 * count))
    data.append(contentsOf: Array("WAVEfmt ".utf8)); append(UInt32(16)); append(UInt16(1)); append(UInt16(1))
    append(UInt32(rate)); append(UInt32(2 * rate)); append(UInt16(2)); append(UInt16(16))
    data.append(contentsOf: Array("data".utf8)); append(UInt32(2 * count))
    for i in 0..<count { append(Int16(8000 * sin(2 * Double.pi * 440 * Double(i) / Double(rate)))) }
    let file = path(name)
    try data.write(to: URL(fileURLWithPath: file))
    return file
  }

  /// The shapes in a safetensors file's header.
  func shapes(_ file: String) throws -> [String: [Int]] {
    let data = try Data(contentsOf: URL(fileURLWithPath: file))
    let length = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let header = try XCTUnwrap(JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + length))) as? [String: Any])
    return header.filter { $0.key != "__metadata__" }.mapValues { (($0 as! [String: Any])["shape"] as! [Int]) }
  }

  func testBenchProbeMFCCAndRemux() throws {
    // `bench media --keep` leaves its encoded clip: 10 frames of 128×96 at 25 fps.
    let clip = path("clip.mp4")
    var (status, output) = try redub(["bench", "media", "--frames", "10", "--width", "128", "--height", "96",
                                      "--crop-size", "64", "--min-time", "0.01", "--keep", clip, "--json"])
    XCTAssertEqual(status, 0, output)
    let rows = output.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    XCTAssertEqual(Set(rows.compactMap { $0["op"] as? String }),
                   ["encode", "decode", "decode_nn", "decode_f32", "crop", "paste"], output)
    XCTAssertTrue(rows.allSatisfy { ($0["fps"] as? Double ?? 0) > 0 }, output)

    (status, output) = try redub(["tools", "probe", clip])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("128×96"), output)
    XCTAssertTrue(output.contains("10 frames"), output)
    XCTAssertTrue(output.contains("audio:     none"), output)
    (status, output) = try redub(["tools", "probe", clip, "--json"])
    XCTAssertEqual(status, 0, output)
    let probe = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
    let video = try XCTUnwrap(probe["video"] as? [String: Any])
    XCTAssertEqual(video["frames"] as? Int, 10)
    XCTAssertEqual(video["fps"] as? Double, 25)

    let tone = try writeTone("tone.wav", seconds: 0.6)
    let features = path("tone.safetensors")
    (status, output) = try redub(["tools", "mfcc", tone, "--output", features, "--fps", "25", "--log-mel"])
    XCTAssertEqual(status, 0, output)
    // 9600 samples: 1 + ⌈(9600 − 400) / 160⌉ = 59 MFCC frames; 1 + 9600 / 200 = 49 log-mel frames.
    let shapes = try shapes(features)
    XCTAssertEqual(shapes["mfcc"], [59, 13])
    XCTAssertEqual(shapes["log_mel"], [49, 80])
    XCTAssertEqual(shapes["windows"]?.dropFirst(), [28, 12])

    let dubbed = path("dubbed.mp4")
    (status, output) = try redub(["tools", "remux", clip, "--audio", tone, "--output", dubbed])
    XCTAssertEqual(status, 0, output)
    (status, output) = try redub(["tools", "probe", dubbed])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("10 frames"), output)
    XCTAssertTrue(output.contains("audio:     aac"), output)
  }

  func testBadFilesAreNamedErrors() throws {
    let notes = path("notes.mp4")
    try Data("not a video\n".utf8).write(to: URL(fileURLWithPath: notes))
    var (status, output) = try redub(["tools", "probe", notes])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains(notes) && output.contains("not a media file"), output)

    let tone = try writeTone("tone.wav", seconds: 0.2)
    (status, output) = try redub(["tools", "remux", tone, "--audio", tone, "--output", path("out.mp4")])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("has no video stream"), output)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.mp4")))

    (status, output) = try redub(["tools", "mfcc", path("missing.wav"), "--output", path("x.safetensors")])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("missing.wav") && output.contains("no such file"), output)
  }
}
