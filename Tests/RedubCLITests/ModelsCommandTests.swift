import Foundation
import Networks
import Tensors
import XCTest

/// `redub models demo` and `redub models check` as an operator runs them.
final class ModelsCommandTests: XCTestCase {
  func testDemoSetChecksAndMissingOrBrokenFilesAreNamed() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-models-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    var (status, output) = try CLITests.redub(["models", "demo", "--untrained", folder.path])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("not a real model"), output)
    (status, output) = try CLITests.redub(["models", "check", folder.path])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("StyleGAN2 64², style 64"), output)
    XCTAssertTrue(output.contains("e4e.safetensors              missing: inversion by optimization"), output)

    // The same seed writes the same generator.
    let again = folder.appendingPathComponent("again")
    (status, output) = try CLITests.redub(["models", "demo", "--untrained", again.path])
    XCTAssertEqual(status, 0, output)
    XCTAssertEqual(try Data(contentsOf: folder.appendingPathComponent("stylegan2.safetensors")),
                   try Data(contentsOf: again.appendingPathComponent("stylegan2.safetensors")))

    try FileManager.default.removeItem(at: folder.appendingPathComponent("fan.safetensors"))
    try Data("garbage".utf8).write(to: folder.appendingPathComponent("bisenet.safetensors"))
    (status, output) = try CLITests.redub(["models", "check", folder.path])
    XCTAssertEqual(status, 1, output)
    XCTAssertTrue(output.contains("missing (required): scripts/convert_checkpoints.py fan"), output)
    XCTAssertTrue(output.contains("bisenet.safetensors          does not load"), output)
    XCTAssertTrue(output.contains("not usable: fan.safetensors, bisenet.safetensors"), output)
    (status, output) = try CLITests.redub(["models", "check", folder.appendingPathComponent("nope").path])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("is not a folder"), output)
  }

  func testDemoSetShipsTheTrainedNetworksAndTheDemoClip() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-models-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    var (status, output) = try CLITests.redub(["models", "demo", "--with-encoder", folder.path])
    XCTAssertEqual(status, 0, output)
    // The encoder is sized for the installed (trained) generator, not the seeded one it replaced.
    let generator = try StyleGAN2Generator(contentsOf: folder.appendingPathComponent("stylegan2.safetensors"))
    let encoder = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("e4e.safetensors"))
    XCTAssertEqual(try encoder.tensor("latent_avg").shape.dims, [generator.configuration.latentCount, generator.configuration.styleDim])
    for name in ["stylegan2", "fan", "bisenet", "audio2landmarks"] {
      XCTAssertTrue(output.contains("\(name).safetensors"), output)
      let metadata = try SafeTensorsFile(contentsOf: folder.appendingPathComponent("\(name).safetensors")).metadata
      XCTAssertTrue(metadata.values.contains { $0.contains("demo world") || $0.contains("demo-world") }, "\(name): \(metadata)")
    }
    for name in ["clip.mp4", "dub.wav", "truth.mp4", "clip_landmarks.safetensors", "truth_landmarks.safetensors"] {
      XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("demo-clip/\(name)").path), name)
    }
    (status, output) = try CLITests.redub(["models", "check", folder.path])
    XCTAssertEqual(status, 0, output)

    // The shipped FAN finds mouths on held-out faces to within 3 px decoded sub-pixel (2.4 px
    // measured over 100 faces) and better than with face-alignment's quarter-pixel step.
    (status, output) = try CLITests.redub(["tools", "demo-world", "fan-accuracy", folder.appendingPathComponent("fan.safetensors").path,
                                           "--faces", "20"])
    XCTAssertEqual(status, 0, output)
    func mouth(_ line: String) throws -> Double {
      let text = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix(line) }, output)
      let value = try XCTUnwrap(text.range(of: "mouth ").map { text[$0.upperBound...].prefix { $0 != " " } }, String(text))
      return try XCTUnwrap(Double(value), String(text))
    }
    let subpixel = try mouth("held-out aligned crops, sub-pixel"), quarter = try mouth("held-out aligned crops, quarter-pixel")
    XCTAssertLessThan(subpixel, 3, output)
    XCTAssertLessThan(subpixel, quarter, output)
    (status, output) = try CLITests.redub(["tools", "demo-world", "fan-accuracy", folder.appendingPathComponent("nope.safetensors").path])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.contains("nope.safetensors does not exist"), output)
  }
}
