import Foundation
import TestSupport
import XCTest

/// A `redub` subprocess with its output in a log file, killed when the value goes.
typealias FarmProcess = BackgroundProcess

extension BackgroundProcess {
  /// The `redub` executable next to the test bundle in the build folder.
  static var redubExecutable: URL {
    var dir = Bundle(for: ProcessFarm.self).bundleURL
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("redub").path), dir.path != "/" {
      dir.deleteLastPathComponent()
    }
    return dir.appendingPathComponent("redub")
  }

  convenience init(_ name: String, _ arguments: [String], folder: URL, environment: [String: String] = [:]) throws {
    try self.init(name, executable: BackgroundProcess.redubExecutable, arguments, folder: folder, environment: environment)
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
