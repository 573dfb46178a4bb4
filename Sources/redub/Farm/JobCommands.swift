import ArgumentParser
import Farm
import Foundation

struct WaitCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "wait",
    abstract: "Wait until a job finishes; exit 0 when it is done, 1 when it failed or was cancelled.")

  @OptionGroup var address: CoordinatorAddressOptions

  @Argument(help: "Job id.")
  var job: String

  @Option(help: ArgumentHelp("Give up after this many seconds (exit 2).", valueName: "seconds"))
  var limit: Double?

  func run() throws {
    let client = try address.client()
    let status = try client.wait(job, every: .milliseconds(250), limit: limit.map { .milliseconds(Int($0 * 1000)) })
    print("job \(job): \(status.state)" + (status.error.isEmpty ? "" : ": \(status.error)"))
    switch status.state {
    case "done": return
    case "running": throw ExitCode(2)
    default: throw ExitCode(1)
    }
  }
}

struct WatchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "watch",
    abstract: "Show a job's live progress per stage (done/running/failed, ETA) until it finishes.",
    discussion: """
      One line per stage: a bar, its tasks (the optimize stage's are the windows) done, running, \
      waiting and failed, and the running tasks' ETA; the job's error when it has one. On a \
      terminal the lines are redrawn in place, otherwise each change is printed anew. Exits 0 when \
      the job is done, 1 when it failed or was cancelled.
      """)

  @OptionGroup var address: CoordinatorAddressOptions

  @Argument(help: "Job id.")
  var job: String

  @Option(help: ArgumentHelp("Refresh interval in seconds.", valueName: "seconds"))
  var interval: Double = 0.5

  func validate() throws {
    if !(interval > 0) { throw ValidationError("--interval must be positive.") }
  }

  func run() throws {
    let client = try address.client()
    let interactive = isatty(STDOUT_FILENO) != 0
    var printedLines = 0
    var lastText = ""
    let status = try client.wait(job, every: .milliseconds(Int(interval * 1000)), detailed: true) { status in
      let lines = JobProgressText.lines(status)
      let text = lines.joined(separator: "\n")
      guard text != lastText else { return }
      lastText = text
      if interactive && printedLines > 0 { print("\u{1B}[\(printedLines)A", terminator: "") }
      for line in lines { print(interactive ? line + "\u{1B}[K" : line) }
      printedLines = lines.count
      fflush(nil)
    }
    if status.state != "done" { throw ExitCode(1) }
  }
}

struct ResumeCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "resume", abstract: "Requeue a failed or cancelled job's unfinished tasks (failure counts reset).")

  @OptionGroup var address: CoordinatorAddressOptions

  @Argument(help: "Job id.")
  var job: String

  func run() throws {
    let reply = try address.client().resume(job)
    print("job \(reply.jobID): \(reply.state), \(reply.tasks) tasks requeued")
  }
}

struct CancelCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cancel", abstract: "Cancel a running job (its running tasks stop on their workers).")

  @OptionGroup var address: CoordinatorAddressOptions

  @Argument(help: "Job id.")
  var job: String

  func run() throws {
    let reply = try address.client().cancel(job)
    print("job \(reply.jobID): \(reply.state), \(reply.tasks) running tasks stopped")
  }
}

struct WorkersCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "workers",
    abstract: "List connected workers: what each runs, its last heartbeat, its blocklists.")

  @OptionGroup var address: CoordinatorAddressOptions

  @Flag(help: "Print JSON (redub.v1.WorkerList).")
  var json = false

  func run() throws {
    let workers = try address.client().workers()
    if json {
      print(FarmJSON.text(Redub_V1_WorkerList.with { $0.workers = workers }))
      return
    }
    if workers.isEmpty { print("no workers connected") }
    let now = Date().timeIntervalSince1970
    for worker in workers {
      var line = "\(worker.name) (\(worker.workerID)): \(worker.state), \(worker.capabilities.cores) cores"
      if !worker.capabilities.computeBackend.isEmpty { line += " on \(worker.capabilities.computeBackend)" }
      if !worker.capabilities.gpuDevices.isEmpty {
        line += ", GPUs: " + worker.capabilities.gpuDevices.map {
          String(format: "%d %@ (%.0f GiB)", $0.index, $0.name, Double($0.memoryBytes) / Double(1 << 30))
        }.joined(separator: ", ")
      } else if worker.capabilities.gpus > 0 {
        line += ", \(worker.capabilities.gpus) GPUs"
      }
      line += String(format: ", heartbeat %.1fs ago", max(0, now - worker.lastHeartbeatUnix))
      if worker.taskID != 0 { line += ", running \(worker.taskKey) of \(worker.jobID)" }
      if !worker.blocklistedForJobs.isEmpty { line += ", blocklisted for \(worker.blocklistedForJobs.joined(separator: ", "))" }
      print(line)
    }
  }
}
