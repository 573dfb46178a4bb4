import Foundation
import XCTest

/// What can be checked of the cluster launchers here: scripts parse and pass shellcheck, the
/// manifests parse and carry the fields cluster/README.md promises, and local-cluster.sh runs a
/// working farm.
final class ClusterFilesTests: XCTestCase {
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

  func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = Self.root
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  let scripts = ["cluster/slurm/worker-gpu.sbatch", "cluster/slurm/worker-cpu.sbatch", "cluster/slurm/add-workers.sh",
                 "scripts/local-cluster.sh", "scripts/prepare_dataset", "scripts/setup.sh", "scripts/test.sh", "scripts/demo.sh"]

  func testScriptsParseAndPassShellcheck() throws {
    for script in scripts {
      let (status, output) = try run("/bin/bash", ["-n", script])
      XCTAssertEqual(status, 0, "\(script): \(output)")
    }
    XCTAssertTrue(FileManager.default.isExecutableFile(atPath: "/usr/bin/shellcheck"), "scripts/setup.sh installs shellcheck")
    let (status, output) = try run("/usr/bin/shellcheck", scripts)
    XCTAssertEqual(status, 0, output)
  }

  func testSlurmAndSystemdFilesHaveWhatTheReadmePromises() throws {
    let gpu = try String(contentsOf: Self.root.appendingPathComponent("cluster/slurm/worker-gpu.sbatch"), encoding: .utf8)
    for line in ["#SBATCH --gres=gpu:1", "#SBATCH --signal=B:USR1@300", "#SBATCH --requeue", "kill -USR1"] {
      XCTAssertTrue(gpu.contains(line), "worker-gpu.sbatch lacks \(line)")
    }
    let cpu = try String(contentsOf: Self.root.appendingPathComponent("cluster/slurm/worker-cpu.sbatch"), encoding: .utf8)
    XCTAssertFalse(cpu.contains("--gres"))
    XCTAssertTrue(cpu.contains("#SBATCH --signal=B:USR1@300"))
    let coordinator = try String(contentsOf: Self.root.appendingPathComponent("cluster/systemd/redub-coordinator.service"), encoding: .utf8)
    for line in ["ExecStart=/usr/local/bin/redub coordinator", "StateDirectory=redub", "Restart=on-failure", "--keys /etc/redub/keys"] {
      XCTAssertTrue(coordinator.contains(line), "redub-coordinator.service lacks \(line)")
    }
    let worker = try String(contentsOf: Self.root.appendingPathComponent("cluster/systemd/redub-worker@.service"), encoding: .utf8)
    XCTAssertTrue(worker.contains("ExecStart=/usr/local/bin/redub worker"))
    XCTAssertTrue(worker.contains("KillSignal=SIGTERM"))
  }

  func testKubernetesManifestsParseWithTheirFields() throws {
    let check = """
      import sys, yaml
      docs = {}
      for name in ["coordinator.yaml", "workers.yaml", "keys-secret.example.yaml"]:
          for d in yaml.safe_load_all(open("cluster/k8s/" + name)):
              docs[(d["kind"], d["metadata"]["name"])] = d
      sts = docs[("StatefulSet", "redub-coordinator")]["spec"]
      assert sts["replicas"] == 1
      assert sts["volumeClaimTemplates"][0]["spec"]["accessModes"] == ["ReadWriteOnce"]
      args = sts["template"]["spec"]["containers"][0]["args"]
      assert args[0] == "coordinator" and "--state" in args and "--keys" in args
      ports = {p["port"] for p in docs[("Service", "redub-coordinator")]["spec"]["ports"]}
      assert ports == {5555, 5556}, ports
      gpu = docs[("Deployment", "redub-worker")]["spec"]["template"]["spec"]
      assert gpu["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
      assert gpu["terminationGracePeriodSeconds"] >= 300
      assert gpu["containers"][0]["args"][0] == "worker"
      cpu = docs[("Deployment", "redub-worker-cpu")]["spec"]["template"]["spec"]
      assert "limits" not in cpu["containers"][0]["resources"]
      assert docs[("Secret", "redub-worker-keys")]["type"] == "Opaque"
      print("ok", len(docs))
      """
    let (status, output) = try run("/usr/bin/python3", ["-c", check])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("ok 5"), output)
  }

  func testLocalClusterRunsAJobAndStops() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-local-cluster-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    let port = 20_000 + Int.random(in: 0..<20_000) / 2 * 2
    let (status, output) = try run("/bin/bash", ["scripts/local-cluster.sh", "3", "--job", "sum", "--dir", folder.path,
                                                 "--port", "\(port)", "--redub", CLITests.executable.path])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("12/12 tasks done"), output)
    XCTAssertTrue(output.contains("local-cluster: stopping"), output)
    XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("keys/coordinator.pub").path))
    // Nothing is left running.
    let (_, processes) = try run("/bin/ps", ["-eo", "args"])
    XCTAssertFalse(processes.contains(folder.path), processes)
  }

  /// The demo edit on a local farm of two worker processes: the video comes out with every frame.
  func testLocalClusterFinishesTheDemoEdit() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-local-demo-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    let port = 20_000 + Int.random(in: 0..<20_000) / 2 * 2
    let (status, output) = try run("/bin/bash", ["scripts/local-cluster.sh", "2", "--job", "demo", "--frames", "12", "--dir", folder.path,
                                                 "--port", "\(port)", "--redub", CLITests.executable.path])
    XCTAssertEqual(status, 0, output)
    XCTAssertTrue(output.contains("local-cluster: submitted the demo edit"), output)
    XCTAssertTrue(output.contains("done"), output)
    let (probed, probe) = try CLITests.redub(["tools", "probe", folder.appendingPathComponent("demo/output.mp4").path, "--json"])
    XCTAssertEqual(probed, 0, probe)
    let info = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(probe.utf8)) as? [String: Any])
    XCTAssertEqual((info["video"] as? [String: Any])?["frames"] as? Int, 12)
    XCTAssertNotNil(info["audio"], "the dub is muxed")
  }
}
