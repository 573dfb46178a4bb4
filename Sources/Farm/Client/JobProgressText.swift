import Foundation

/// What `redub watch` prints for a job: a headline, then one line per stage with a bar, the
/// stage's tasks (windows, for the optimize stage) done, running, waiting and failed, and the
/// running tasks' ETA, under it each running task's latest loss terms; the job's error last. A pure function of the status, so it is tested
/// without a terminal.
public enum JobProgressText {
  /// The lines for `status` (a detailed status: with stages and live progress).
  public static func lines(_ status: Redub_V1_JobStatus, barWidth: Int = 30) -> [String] {
    var lines = ["job \(status.jobID) (\(status.name)): \(status.state), \(status.tasksDone)/\(status.tasksTotal) tasks"]
    let nameWidth = max(12, status.stages.map(\.stage.count).max() ?? 0)
    for stage in status.stages {
      let fraction = progress(stage)
      let filled = min(barWidth, max(0, Int(fraction * Double(barWidth))))
      let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: barWidth - filled)
      let percent = String(Int(fraction * 100))
      var line = "  " + stage.stage.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + " " + bar + " "
        + String(repeating: " ", count: max(0, 3 - percent.count)) + percent + "%"
        + "  done \(stage.done)  running \(stage.running)  waiting \(stage.waiting)  failed \(stage.failed)"
      if stage.running > 0 && stage.etaSeconds >= 0 { line += "  ETA " + duration(stage.etaSeconds) }
      lines.append(line)
      // Running tasks that report loss terms: one line each (the first few), step and terms.
      let reporting = status.tasks.filter { $0.stage == stage.stage && $0.state == "leased" && !$0.losses.isEmpty }
      for task in reporting.prefix(maxTaskLines) {
        let terms = task.losses.map { String(format: "%@ %.4g", $0.name, $0.value) }.joined(separator: "  ")
        lines.append("    \(task.key)  \(task.iteration)/\(task.total)  \(terms)")
      }
      if reporting.count > maxTaskLines { lines.append("    … and \(reporting.count - maxTaskLines) more running") }
    }
    if !status.error.isEmpty { lines.append("  error: \(status.error)") }
    return lines
  }

  /// Running tasks listed with their loss terms, per stage.
  public static let maxTaskLines = 6

  /// The stage's share done, counting each running task by its fraction: 0…1.
  public static func progress(_ stage: Redub_V1_StageStatus) -> Double {
    guard stage.total > 0 else { return 0 }
    let running = Double(stage.running) * min(1, max(0, stage.runningFraction.isFinite ? stage.runningFraction : 0))
    return min(1, (Double(stage.done) + running) / Double(stage.total))
  }

  /// "42s", "3m05s", "2h07m".
  public static func duration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    if s < 60 { return "\(s)s" }
    if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
    return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
  }
}
