import ArgumentParser
import Farm
import Foundation

struct FarmBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "farm",
    abstract: "Farm throughput on loopback: tiny-task round trips, blob transfer, coordinator overhead.",
    discussion: """
      Runs a coordinator (state in a temporary folder, every state change committed to SQLite) \
      and --workers workers in this process, on 127.0.0.1. Rows: `round_trips` (tiny tasks \
      per second, lease + result committed each), `blob_download` and `blob_upload` (MB/s through \
      the bulk socket, SHA-256 checked on arrival), `overhead` (the coordinator's control-thread \
      busy time per task as a fraction of a one-minute window) and `overhead_cpu` (the CPU time of \
      that busy time, without waits for a core).
      """)

  @OptionGroup var options: BenchOptions

  @Option(help: "Workers for the round-trip measurement.")
  var workers = 16

  @Option(help: "Tiny tasks for the round-trip measurement.")
  var tasks = 4000

  @Option(help: "Blob size in MB for the transfer measurements.")
  var blobMb = 256

  @Flag(help: "Keep the coordinator's state folder (its SQLite file has every lease's times) and print its path.")
  var keepState = false

  func validate() throws {
    if workers < 1 || tasks < 1 || blobMb < 1 { throw ValidationError("--workers, --tasks and --blob-mb must be positive.") }
  }

  func run() throws {
    var report = BenchReport(columns: ["measure", "workers", "count", "seconds", "value", "unit"], json: options.json)
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-bench-farm-\(UUID().uuidString.prefix(8))")
    defer {
      if keepState {
        FileHandle.standardError.write(Data("state kept in \(folder.path)\n".utf8))
      } else {
        try? FileManager.default.removeItem(at: folder)
      }
    }

    var configuration = CoordinatorConfiguration(stateDirectory: folder.appendingPathComponent("state"), dataRoot: folder)
    configuration.controlEndpoint = "tcp://127.0.0.1:*"
    configuration.bulkEndpoint = "tcp://127.0.0.1:*"
    configuration.heartbeatInterval = .seconds(1)
    configuration.logger = FarmLog.standardError(label: "bench", level: "error")
    let coordinator = try Coordinator(configuration: configuration)
    try coordinator.start()
    defer { coordinator.stop() }
    var registry = DiagnosticTasks.registry
    registry.register(TouchTask())
    var pool: [Worker] = []
    defer { pool.forEach { $0.stop() } }
    for index in 0..<workers {
      var worker = WorkerConfiguration(coordinator: coordinator.controlEndpoint,
                                       cacheDirectory: folder.appendingPathComponent("cache-\(index)"), registry: registry)
      worker.workerID = "bench-\(index)"
      worker.logger = configuration.logger
      let started = try Worker(configuration: worker)
      started.start()
      pool.append(started)
    }
    let client = try FarmClient(coordinator: coordinator.controlEndpoint, timeout: .seconds(30))
    while try client.workers().count < workers { usleep(10_000) }

    // Round trips of tiny tasks.
    let warmup = try client.submit(tinyJob(count: min(tasks, 200)))
    _ = try client.wait(warmup, every: .milliseconds(5))
    let busyBefore = coordinator.controlBusySeconds
    let cpuBefore = coordinator.controlBusyCPUSeconds
    let clock = ContinuousClock()
    let start = clock.now
    let job = try client.submit(tinyJob(count: tasks))
    let status = try client.wait(job, every: .milliseconds(5))
    let seconds = self.seconds(clock.now - start)
    guard status.state == "done" else { throw FarmError.coordinator("benchmark job \(status.state): \(status.error)") }
    let busyPerTask = (coordinator.controlBusySeconds - busyBefore) / Double(tasks)
    let cpuPerTask = (coordinator.controlBusyCPUSeconds - cpuBefore) / Double(tasks)
    report.add(["measure": "round_trips", "workers": workers, "count": tasks, "seconds": seconds,
                "value": Double(tasks) / seconds, "unit": "tasks/s"])
    report.add(["measure": "overhead", "workers": workers, "count": tasks, "seconds": busyPerTask,
                "value": busyPerTask / 60 * 100, "unit": "% of 60 s window"])
    report.add(["measure": "overhead_cpu", "workers": workers, "count": tasks, "seconds": cpuPerTask,
                "value": cpuPerTask / 60 * 100, "unit": "% of 60 s window"])

    // Blob download: one task whose input is a fresh blob only one worker fetches.
    let bytes = blobMb * 1_000_000
    let blob = folder.appendingPathComponent("blob.bin")
    try DiagnosticTasks.pseudoRandomBytes(count: bytes, seed: UInt64(Date().timeIntervalSince1970)).write(to: blob)
    var download = Redub_V1_JobSpec()
    download.inputs = [.with { $0.name = "blob"; $0.path = blob.path }]
    download.tasks = [.with {
      $0.key = "download"; $0.stage = "bench"; $0.taskKind = TouchTask.kind
      $0.inputs = [.with { $0.name = "data"; $0.jobInput = "blob" }]
    }]
    let downloadJob = try client.submit(download)  // the coordinator imports (hashes) the file here
    let downloadStart = clock.now
    _ = try client.wait(downloadJob, every: .milliseconds(5))
    let downloadSeconds = self.seconds(clock.now - downloadStart)
    report.add(["measure": "blob_download", "workers": 1, "count": bytes, "seconds": downloadSeconds,
                "value": Double(bytes) / downloadSeconds / 1e6, "unit": "MB/s"])

    // Blob upload: one task returning a large output.
    var upload = Redub_V1_JobSpec()
    upload.tasks = [.with {
      $0.key = "upload"; $0.stage = "bench"; $0.taskKind = BlobTask.kind
      $0.parameters = Data("{\"bytes\": \(bytes), \"seed\": 7}".utf8)
    }]
    let uploadStart = clock.now
    let uploadJob = try client.submit(upload)
    _ = try client.wait(uploadJob, every: .milliseconds(5))
    let uploadSeconds = self.seconds(clock.now - uploadStart)
    report.add(["measure": "blob_upload", "workers": 1, "count": bytes, "seconds": uploadSeconds,
                "value": Double(bytes) / uploadSeconds / 1e6, "unit": "MB/s"])
  }

  func tinyJob(count: Int) -> Redub_V1_JobSpec {
    var job = Redub_V1_JobSpec()
    job.name = "bench-tiny"
    job.tasks = (0..<count).map { index in
      .with { $0.key = "t\(index)"; $0.stage = "tiny"; $0.taskKind = SumTask.kind; $0.parameters = Data("{\"value\": \(index)}".utf8) }
    }
    return job
  }

  func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
  }
}

/// "bench.touch": outputs its input's size without reading it (the download is the work).
struct TouchTask: FarmTask {
  static let kind = "bench.touch"
  func decodeParameters(_ bytes: Data) throws {}
  func run(_ parameters: Void, context: TaskContext) throws -> TaskProduct {
    let size = context.inputFiles.values.compactMap { try? $0.resourceValues(forKeys: [.fileSizeKey]).fileSize }.reduce(0, +)
    return TaskProduct(outputs: ["size": Data(String(size).utf8)])
  }
}
