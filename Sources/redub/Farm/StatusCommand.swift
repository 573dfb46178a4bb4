import ArgumentParser
import Farm
import Foundation

struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Show one job (stages, running and failed tasks, blocklists) or list every job.")

  @OptionGroup var address: CoordinatorAddressOptions

  @Argument(help: "Job id (omit to list all jobs).")
  var job: String?

  @Flag(help: "Print JSON (redub.v1.JobStatus or JobList).")
  var json = false

  @Flag(help: "List every task of the job, not only running and failed ones.")
  var allTasks = false

  func run() throws {
    let client = try address.client()
    if let job {
      let status = try client.status(job, allTasks: allTasks)
      if json { print(FarmJSON.text(status)) } else { printStatus(status) }
    } else {
      let jobs = try client.jobs()
      if json {
        print(FarmJSON.text(Redub_V1_JobList.with { $0.jobs = jobs }))
        return
      }
      if jobs.isEmpty { print("no jobs") }
      for job in jobs {
        print("\(job.jobID)  \(job.state.padding(toLength: 9, withPad: " ", startingAt: 0))  \(job.tasksDone)/\(job.tasksTotal) tasks  priority \(job.priority)  \(formatTime(job.createdUnix))  \(job.name)")
      }
    }
  }
}

func printStatus(_ status: Redub_V1_JobStatus) {
  print("job \(status.jobID) (\(status.name)): \(status.state), \(status.tasksDone)/\(status.tasksTotal) tasks done")
  print("  created \(formatTime(status.createdUnix))" + (status.finishedUnix > 0 ? ", finished \(formatTime(status.finishedUnix))" : ""))
  if !status.error.isEmpty { print("  error: \(status.error)") }
  for stage in status.stages {
    print("  stage \(stage.stage): \(stage.done)/\(stage.total) done, \(stage.running) running, \(stage.waiting) waiting, \(stage.failed) failed"
          + (stage.etaSeconds >= 0 && stage.running > 0 ? String(format: ", ETA %.0fs", stage.etaSeconds) : ""))
  }
  for task in status.tasks where task.state != "done" || !task.outputs.isEmpty {
    var line = "  task \(task.key) [\(task.stage)] \(task.state)"
    if !task.worker.isEmpty { line += " on \(task.worker)" }
    if task.total > 0 { line += " \(task.iteration)/\(task.total)" }
    if task.attempts > 0 { line += ", \(task.attempts) failed attempts" }
    if !task.error.isEmpty { line += ": \(task.error)" }
    print(line)
  }
  if !status.blocklistedWorkers.isEmpty { print("  blocklisted workers: \(status.blocklistedWorkers.joined(separator: ", "))") }
}
