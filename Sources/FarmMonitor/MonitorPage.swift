import Farm
import Foundation

/// The monitor's HTML page: rendered on the server from one read of the farm, no script; a
/// `<meta http-equiv="refresh">` reloads it every `refreshSeconds`.
struct MonitorPage: Sendable {
  var jobs: [Redub_V1_JobStatus]
  /// Jobs drawn in full (stages, task grid, running tasks): the selected one, or the running
  /// ones (at most `maxGrids`), or the newest.
  var details: [Redub_V1_JobStatus]
  var workers: [Redub_V1_WorkerInfo]
  var live: CoordinatorLiveState
  /// A job asked for by `?job=` that the farm does not know.
  var missingJob: String?
  var now: Double

  static let maxGrids = 4
  static let refreshSeconds = 2

  /// The grid's colour classes: a task's stored state as the monitor names it.
  static func displayState(_ state: String) -> String {
    switch TaskState(rawValue: state) {
    case .leased: "running"
    case .waiting, .ready: "queued"
    case .done: "done"
    case .failed: "failed"
    case .cancelled: "cancelled"
    case nil: "queued"
    }
  }

  func html() -> String {
    var out = """
      <!DOCTYPE html>
      <html lang="en"><head><meta charset="utf-8">
      <meta http-equiv="refresh" content="\(MonitorPage.refreshSeconds)">
      <title>redub farm</title>
      <style>\(MonitorPage.style)</style>
      </head><body>
      <header><h1>redub farm</h1><p class="meta">\(workers.count) workers, \(jobs.count) jobs · \(clock(now)) · \
      refreshes every \(MonitorPage.refreshSeconds) s · read-only · <a href="/api/jobs">/api/jobs</a> \
      <a href="/api/workers">/api/workers</a> <a href="/metrics">/metrics</a></p></header>

      """
    if let missingJob { out += "<p class=\"error\" id=\"missing-job\">no job \(escape(missingJob))</p>\n" }
    out += jobTable()
    for job in details { out += jobSection(job) }
    out += workerTable()
    out += "</body></html>\n"
    return out
  }

  func jobTable() -> String {
    var out = "<section id=\"jobs\"><h2>Jobs</h2>\n"
    if jobs.isEmpty { return out + "<p class=\"empty\">no jobs</p></section>\n" }
    out += "<table><thead><tr><th>job</th><th>name</th><th>state</th><th>tasks</th><th></th><th>created</th></tr></thead><tbody>\n"
    for job in jobs {
      let fraction = job.tasksTotal > 0 ? Double(job.tasksDone) / Double(job.tasksTotal) : 0
      out += """
        <tr class="job-row" data-job="\(escape(job.jobID))"><td><a href="/?job=\(escape(job.jobID))">\(escape(job.jobID))</a></td>\
        <td>\(escape(job.name))</td><td class="state \(escape(job.state))">\(escape(job.state))</td>\
        <td>\(job.tasksDone)/\(job.tasksTotal)</td><td>\(bar(fraction, "done"))</td><td>\(clock(job.createdUnix))</td></tr>

        """
    }
    return out + "</tbody></table></section>\n"
  }

  func jobSection(_ job: Redub_V1_JobStatus) -> String {
    var out = """
      <section class="job" id="job-\(escape(job.jobID))" data-job="\(escape(job.jobID))">
      <h2>\(escape(job.name.isEmpty ? job.jobID : job.name)) <span class="id">\(escape(job.jobID))</span> \
      <span class="state \(escape(job.state))">\(escape(job.state))</span> \(job.tasksDone)/\(job.tasksTotal) tasks</h2>

      """
    if !job.error.isEmpty { out += "<p class=\"error\">\(escape(job.error))</p>\n" }
    if !job.blocklistedWorkers.isEmpty {
      out += "<p class=\"warn\">blocklisted workers: \(escape(job.blocklistedWorkers.joined(separator: ", ")))</p>\n"
    }
    // Stages: counts, progress (finished tasks plus the running ones' fractions) and ETA.
    out += "<table class=\"stages\"><thead><tr><th>stage</th><th>done</th><th>running</th><th>queued</th><th>failed</th><th>progress</th><th>ETA</th></tr></thead><tbody>\n"
    for stage in job.stages {
      let progress = stage.total > 0 ? (Double(stage.done) + stage.runningFraction * Double(stage.running)) / Double(stage.total) : 0
      let eta = stage.running > 0 && stage.etaSeconds >= 0 ? duration(stage.etaSeconds) : ""
      out += """
        <tr class="stage" data-stage="\(escape(stage.stage))"><td>\(escape(stage.stage))</td><td>\(stage.done)/\(stage.total)</td>\
        <td>\(stage.running)</td><td>\(stage.waiting)</td><td>\(stage.failed)</td><td>\(bar(progress, "running"))</td><td>\(eta)</td></tr>

        """
    }
    out += "</tbody></table>\n"
    // The grid: one row per stage, one cell per task (an edit job's windows are its
    // optimize stage's row), coloured by state; a running cell fills with its progress.
    out += "<div class=\"grid\" id=\"grid-\(escape(job.jobID))\">\n"
    var byStage: [String: [Redub_V1_TaskStatus]] = [:]
    for task in job.tasks { byStage[task.stage, default: []].append(task) }
    for stage in job.stages {
      out += "<div class=\"grid-row\" data-stage=\"\(escape(stage.stage))\"><div class=\"grid-stage\">\(escape(stage.stage))</div><div class=\"cells\">"
      for task in byStage[stage.stage] ?? [] {
        let state = MonitorPage.displayState(task.state)
        var title = "\(task.key): \(state)"
        if !task.worker.isEmpty { title += " on \(task.worker)" }
        var fill = state == "done" ? 1.0 : 0.0
        if state == "running", task.total > 0 {
          fill = Double(task.iteration) / Double(task.total)
          title += " \(task.iteration)/\(task.total)"
          if let eta = live.progress[task.taskID]?.etaSeconds, eta >= 0 { title += ", ETA \(duration(eta))" }
        }
        if task.attempts > 0 { title += ", \(task.attempts) failed attempts" }
        if !task.error.isEmpty { title += ": \(task.error)" }
        out += "<span class=\"cell \(state)\" data-task=\"\(escape(task.key))\" data-state=\"\(state)\" title=\"\(escape(title))\">"
          + "<span class=\"fill\" style=\"width:\(percent(fill))\"></span></span>"
      }
      out += "</div></div>\n"
    }
    out += """
      <div class="legend"><span class="cell queued"></span>queued <span class="cell running"></span>running \
      <span class="cell done"></span>done <span class="cell failed"></span>failed <span class="cell cancelled"></span>cancelled</div>
      </div>

      """
    // Running tasks in full: worker, progress, ETA.
    let running = job.tasks.filter { $0.state == TaskState.leased.rawValue }
    if !running.isEmpty {
      out += "<table class=\"running\"><thead><tr><th>running task</th><th>stage</th><th>worker</th><th>progress</th><th></th><th>ETA</th><th>latest render</th></tr></thead><tbody>\n"
      for task in running {
        let fraction = task.total > 0 ? Double(task.iteration) / Double(task.total) : 0
        let eta = live.progress[task.taskID].map { $0.etaSeconds >= 0 ? duration($0.etaSeconds) : "" } ?? ""
        out += """
          <tr class="running-task" data-task="\(escape(task.key))"><td>\(escape(task.key))</td><td>\(escape(task.stage))</td>\
          <td>\(escape(task.worker))</td><td>\(task.total > 0 ? "\(task.iteration)/\(task.total)" : "")</td>\
          <td>\(bar(fraction, "running"))</td><td>\(eta)</td><td>\(thumbnail(task))</td></tr>

          """
      }
      out += "</tbody></table>\n"
    }
    let failed = job.tasks.filter { $0.state == TaskState.failed.rawValue || (!$0.error.isEmpty && $0.state != TaskState.done.rawValue) }
    for task in failed {
      out += "<p class=\"error task-error\">\(escape(task.key)): \(escape(task.error))</p>\n"
    }
    return out + "</section>\n"
  }

  /// A running task's latest render as an `<img>` (sized from the PNG's header), or nothing.
  func thumbnail(_ task: Redub_V1_TaskStatus) -> String {
    guard let report = live.progress[task.taskID], report.hasThumbnail,
          let (width, height) = MonitorPage.pngSize(report.thumbnail.png) else { return "" }
    let caption = escape(report.thumbnail.caption)
    // The iteration in the address makes each refresh fetch the current picture.
    return "<img class=\"thumbnail\" data-task=\"\(escape(task.key))\" src=\"/api/tasks/\(task.taskID)/thumbnail.png?at=\(report.iteration)\" "
      + "width=\"\(width)\" height=\"\(height)\" alt=\"\(caption)\" title=\"\(caption)\">"
  }

  /// Width and height from a PNG's IHDR chunk; nil for anything else.
  static func pngSize(_ png: Data) -> (Int, Int)? {
    let bytes = [UInt8](png.prefix(24))
    guard bytes.count == 24, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], bytes[12..<16] == [0x49, 0x48, 0x44, 0x52] else { return nil }
    func int(_ at: Int) -> Int { bytes[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
    return (int(16), int(20))
  }

  func workerTable() -> String {
    var out = "<section id=\"workers\"><h2>Workers</h2>\n"
    if workers.isEmpty { return out + "<p class=\"empty\">no workers connected</p></section>\n" }
    out += "<table><thead><tr><th>worker</th><th>state</th><th>last heartbeat</th><th>current task</th><th>progress</th><th>cores</th><th>cached blobs</th><th>blocklisted for</th></tr></thead><tbody>\n"
    for worker in workers {
      var task = ""
      var progress = ""
      if worker.taskID != 0 {
        task = "\(escape(worker.taskKey)) <span class=\"id\">\(escape(worker.jobID))</span>"
        if let report = live.progress[worker.taskID], report.total > 0 {
          progress = "\(report.iteration)/\(report.total)" + (report.etaSeconds >= 0 ? ", ETA \(duration(report.etaSeconds))" : "")
        }
      }
      let cores = "\(worker.capabilities.cores)" + (worker.capabilities.gpus > 0 ? " + \(worker.capabilities.gpus) GPU" : "")
      out += """
        <tr class="worker" data-worker="\(escape(worker.workerID))"><td>\(escape(worker.name))\
        \(worker.name == worker.workerID ? "" : " <span class=\"id\">\(escape(worker.workerID))</span>")</td>\
        <td class="state \(escape(worker.state))">\(escape(worker.state))</td>\
        <td>\(String(format: "%.1f s ago", max(0, now - worker.lastHeartbeatUnix)))</td><td>\(task)</td><td>\(progress)</td>\
        <td>\(cores)</td><td>\(worker.cachedBlobs)</td><td>\(escape(worker.blocklistedForJobs.joined(separator: ", ")))</td></tr>

        """
    }
    return out + "</tbody></table></section>\n"
  }

  func bar(_ fraction: Double, _ kind: String) -> String {
    "<span class=\"bar\"><span class=\"fill \(kind)\" style=\"width:\(percent(fraction))\"></span></span> \(percent(fraction))"
  }

  func percent(_ fraction: Double) -> String {
    String(format: "%.0f%%", max(0, min(1, fraction.isFinite ? fraction : 0)) * 100)
  }

  func duration(_ seconds: Double) -> String {
    let total = Int(seconds.rounded())
    if total < 60 { return "\(total) s" }
    if total < 3600 { return "\(total / 60) min \(total % 60) s" }
    return "\(total / 3600) h \(total % 3600 / 60) min"
  }

  func clock(_ unix: Double) -> String {
    guard unix > 0 else { return "" }
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
    return formatter.string(from: Date(timeIntervalSince1970: unix))
  }

  static let style = """
    body{font:14px/1.4 system-ui,sans-serif;margin:1em 2em;color:#222;background:#fafafa}
    h1{margin:0}h2{font-size:1.1em;margin:1.2em 0 .4em}.meta,.id{color:#777;font-size:.9em}
    table{border-collapse:collapse;margin:.3em 0}th,td{padding:2px 10px 2px 0;text-align:left;white-space:nowrap}
    th{font-weight:600;border-bottom:1px solid #ccc}
    .bar{display:inline-block;width:120px;height:10px;background:#e4e4e4;vertical-align:middle}
    .bar .fill{display:block;height:100%}.fill.done{background:#3a9a4a}.fill.running{background:#2f7de1}
    .grid{margin:.5em 0}.grid-row{display:flex;align-items:flex-start;margin:2px 0}
    .grid-stage{width:150px;flex:none;color:#555}.cells{display:flex;flex-wrap:wrap;gap:2px}
    .cell{display:inline-block;width:16px;height:16px;border-radius:2px;position:relative;overflow:hidden;vertical-align:middle}
    .cell .fill{position:absolute;left:0;top:0;bottom:0}
    .cell.queued{background:#d0d0d0}.cell.running{background:#b9d3f5}.cell.running .fill{background:#2f7de1}
    .cell.done{background:#3a9a4a}.cell.failed{background:#d8413a}.cell.cancelled{background:#999}
    img.thumbnail{image-rendering:pixelated;vertical-align:middle;border:1px solid #ccc}
    .legend{color:#555;font-size:.85em;margin-top:.3em}.legend .cell{width:10px;height:10px;margin:0 3px 0 8px}
    .state.running,.state.busy{color:#2f7de1}.state.done,.state.idle{color:#3a9a4a}.state.failed{color:#d8413a}
    .state.draining,.warn{color:#b07000}.error{color:#d8413a}.empty{color:#777}
    """
}

/// Text safe inside HTML elements and quoted attributes.
func escape(_ text: String) -> String {
  var out = ""
  out.reserveCapacity(text.utf8.count)
  for character in text {
    switch character {
    case "&": out += "&amp;"
    case "<": out += "&lt;"
    case ">": out += "&gt;"
    case "\"": out += "&quot;"
    case "'": out += "&#39;"
    default: out.append(character)
    }
  }
  return out
}
