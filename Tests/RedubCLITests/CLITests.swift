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
