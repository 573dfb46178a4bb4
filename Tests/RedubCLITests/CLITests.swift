import DemoWorld
import Foundation
import XCTest

/// Runs the built `redub` executable as a user would.
final class CLITests: XCTestCase {
  static var executable: URL {
    // Test bundles live next to the products in the build folder.
    var dir = Bundle(for: CLITests.self).bundleURL
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("redub").path), dir.path != "/" {
      dir.deleteLastPathComponent()
    }
    return dir.appendingPathComponent("redub")
  }

  func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    try Self.redub(arguments, environment: environment)
  }

  /// Runs `redub` with the arguments; standard output and error together.
  static func redub(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  /// An edit's inputs in `folder`: the demo models (`models`), a 10-frame 128×96 clip
  /// (`clip.mp4`) with the synthetic face scaled in, its landmarks with frame 7 faceless
  /// (`landmarks.safetensors`) and a 10-frame dub (`dub.wav`).
  static func makeEditInputs(in folder: URL) throws {
    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
    var (status, output) = try redub(["models", "demo", "--untrained", path("models")])
    XCTAssertEqual(status, 0, output)
    (status, output) = try redub(["bench", "media", "--frames", "10", "--width", "128", "--height", "96",
                                  "--crop-size", "64", "--min-time", "0.01", "--keep", path("clip.mp4")])
    XCTAssertEqual(status, 0, output)
    let corpus = SyntheticSpeechCorpus.make(speakers: 1, sentences: 1, angles: 1)
    let faces = corpus[0].landmarks.prefix(10).map { $0.map { $0 * 0.4 } }
    try SyntheticSpeechCorpus.writeLandmarks(Array(faces), missing: [7], to: URL(fileURLWithPath: path("landmarks.safetensors")))
    try SyntheticSpeechCorpus.wav(Array(corpus[2].samples.prefix(6_400))).write(to: URL(fileURLWithPath: path("dub.wav")))
  }

  func testHelpListsSubcommands() throws {
    let (status, output) = try run(["--help"])
    XCTAssertEqual(status, 0, output)
    for sub in ["demo", "bench", "info"] { XCTAssertTrue(output.contains(sub), "help lacks \(sub):\n\(output)") }
  }

  func testVersion() throws {
    let (status, output) = try run(["--version"])
    XCTAssertEqual(status, 0)
    XCTAssertTrue(output.trimmingCharacters(in: .whitespacesAndNewlines).range(of: #"^\d+\.\d+\.\d+"#, options: .regularExpression) != nil, output)
  }

  func testUnknownSubcommandFailsWithMessage() throws {
    let (status, output) = try run(["frobnicate"])
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(output.lowercased().contains("error"), output)
  }
}
