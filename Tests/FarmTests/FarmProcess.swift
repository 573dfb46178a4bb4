import Foundation
import XCTest

/// A `redub` subprocess with its output in files, killed when the value goes.
final class FarmProcess {
  static var executable: URL {
    var dir = Bundle(for: FarmProcess.self).bundleURL
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("redub").path), dir.path != "/" {
      dir.deleteLastPathComponent()
    }
    return dir.appendingPathComponent("redub")
  }

  let process = Process()
  let output: URL
  let name: String

  init(_ name: String, _ arguments: [String], folder: URL, environment: [String: String] = [:]) throws {
    self.name = name
    output = folder.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(6)).log")
    FileManager.default.createFile(atPath: output.path, contents: nil)
    let handle = try FileHandle(forWritingTo: output)
    process.executableURL = FarmProcess.executable
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
  }

  var pid: Int32 { process.processIdentifier }
  var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

  func signal(_ number: Int32) { if process.isRunning { kill(pid, number) } }

  /// Waits up to `seconds` for the process to exit; returns its status, or nil if it still runs.
  func waitForExit(_ seconds: Double) -> Int32? {
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

/// Coordinator and workers as separate `redub` processes on loopback, 100 ms heartbeats.
final class ProcessFarm {
  let folder = TemporaryFolder("procfarm")
  let executionLog: URL
  var coordinator: FarmProcess?
  var control = ""
  var workers: [String: FarmProcess] = [:]

  init() {
    executionLog = folder.url.appendingPathComponent("executions.log")
  }

  var state: URL { folder.url.appendingPathComponent("state") }
  var environment: [String: String] { ["REDUB_DIAG_EXECUTION_LOG": executionLog.path] }

  /// Starts the coordinator (on fresh ports, or on the ones it had before a restart).
  func startCoordinator(extra: [String] = []) throws {
    let control = self.control.isEmpty ? "tcp://127.0.0.1:*" : self.control
    let process = try FarmProcess("coordinator", [
      "coordinator", "--state", state.path, "--control", control, "--bulk", "tcp://127.0.0.1:*",
      "--data-root", folder.url.path, "--heartbeat-ms", "100", "--log-level", "info",
    ] + extra, folder: folder.url, environment: environment)
    coordinator = process
    let ready = eventually(30) { process.log.contains("coordinator: control ") }
    guard ready, let line = process.log.split(separator: "\n").first(where: { $0.hasPrefix("coordinator: control ") }) else {
      throw FarmError.coordinatorUnreachable("coordinator did not start: \(process.log)")
    }
    self.control = String(line.split(separator: " ")[2].dropLast())  // "tcp://127.0.0.1:PORT,"
  }

  /// Starts a worker process named `name` with its own cache folder.
  @discardableResult
  func startWorker(_ name: String, extra: [String] = []) throws -> FarmProcess {
    let process = try FarmProcess(name, [
      "worker", "--coordinator", control, "--cache", folder.url.appendingPathComponent("cache-\(name)").path,
      "--name", name, "--id", name, "--reconnect-ms", "100", "--reconnect-max-ms", "400", "--drain-grace", "0",
      "--log-level", "info",
    ] + extra, folder: folder.url, environment: environment)
    workers[name] = process
    return process
  }

  func client() throws -> FarmClient { try FarmClient(coordinator: control, timeout: .seconds(5)) }

  /// Lines of the diagnostic execution log: (event, task key).
  var executions: [(event: String, key: String)] {
    ((try? String(contentsOf: executionLog, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
      let parts = $0.split(separator: " ")
      return parts.count == 3 ? (String(parts[0]), String(parts[2])) : nil
    }
  }

  func starts(of key: String) -> Int { executions.filter { $0.event == "start" && $0.key == key }.count }

  /// The job's tasks and their sums as the coordinator stored them.
  func sums(_ job: String) throws -> [String: String] {
    var sums: [String: String] = [:]
    let store = try JobStore(path: state.appendingPathComponent("farm.sqlite"))
    let artifacts = ArtifactStore(blobs: try BlobStore(root: state.appendingPathComponent("blobs")), store: store)
    for output in try store.outputs(jobID: job) where output.name == "sum" {
      sums[output.taskKey] = String(decoding: try artifacts.data(for: output.sha256), as: UTF8.self)
    }
    return sums
  }
}

import Farm

/// A job of `count` diag.sum tasks; task i sums to 1000 + i.
func sumJob(_ name: String, count: Int, steps: Int, stepMilliseconds: Int) -> Redub_V1_JobSpec {
  makeJob(name, count: count, kind: SumTask.kind) { index in
    Data("{\"value\": \(1000 + index), \"steps\": \(steps), \"stepMilliseconds\": \(stepMilliseconds)}".utf8)
  }
}

func expectedSums(count: Int) -> [String: String] {
  Dictionary(uniqueKeysWithValues: (0..<count).map { (String(format: "task-%04d", $0), String(1000 + $0)) })
}
