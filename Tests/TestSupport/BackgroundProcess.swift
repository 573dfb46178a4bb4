import Foundation

/// A program running in the background with its output in a log file, killed when the value
/// goes: farm coordinators and workers in the end-to-end tests.
public final class BackgroundProcess {
  public let process = Process()
  public let output: URL
  public let name: String

  public init(_ name: String, executable: URL, _ arguments: [String], folder: URL, environment: [String: String] = [:]) throws {
    self.name = name
    output = folder.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(6)).log")
    FileManager.default.createFile(atPath: output.path, contents: nil)
    let handle = try FileHandle(forWritingTo: output)
    process.executableURL = executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
  }

  public var pid: Int32 { process.processIdentifier }
  public var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

  public func signal(_ number: Int32) { if process.isRunning { kill(pid, number) } }

  /// Waits up to `seconds` for the process to exit; returns its status, or nil if it still runs.
  public func waitForExit(_ seconds: Double) -> Int32? {
    let deadline = Date().addingTimeInterval(seconds)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    return process.isRunning ? nil : process.terminationStatus
  }

  deinit {
    if process.isRunning {
      kill(pid, SIGCONT)
      kill(pid, SIGKILL)
      process.waitUntilExit()
    }
  }
}

/// Polls `condition` every 20 ms for up to `seconds`.
public func eventually(_ seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    if try condition() { return true }
    usleep(20_000)
  }
  return try condition()
}
