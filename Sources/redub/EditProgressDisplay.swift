import Dubbing

/// One progress bar per stage of a local edit: the stage's share done over all its tasks (several
/// run at once with --workers), the tasks finished, and the latest task's step and loss terms.
final class EditProgressDisplay {
  private var bars: [EditStage: ProgressBar] = [:]
  private let indent: String

  init(indent: String = "") { self.indent = indent }

  /// The handler for `LocalEdit`; it calls it under its own lock.
  var handler: LocalEdit.Progress {
    { [self] report in
      let resolution = 1000
      if bars[report.stage] == nil { bars[report.stage] = ProgressBar(title: indent + report.stage.rawValue, total: resolution) }
      var note = "\(report.stageTasksDone)/\(report.stageTasks) tasks"
      if report.stageTasks > 1 { note += "; \(report.key) \(report.step)/\(report.steps)" }
      if let terms = report.terms { note += "  \(terms)" }
      bars[report.stage]!.update(Int(report.stageFraction * Double(resolution)), note: note)
    }
  }
}
