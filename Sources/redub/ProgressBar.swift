import Foundation

/// A one-line progress bar on standard error; on a non-terminal (logs, CI) it prints a line
/// at every 10% instead of redrawing.
struct ProgressBar {
  let title: String
  let total: Int
  private let interactive = isatty(STDERR_FILENO) != 0
  private var lastDecile = -1
  private let start = ContinuousClock.now

  init(title: String, total: Int) {
    self.title = title
    self.total = max(total, 1)
  }

  mutating func update(_ done: Int, note: String = "") {
    fflush(nil)  // keep earlier standard output ahead of the bar when both go to one log
    let fraction = Double(min(done, total)) / Double(total)
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    if interactive {
      let width = 30
      let filled = Int(fraction * Double(width))
      let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
      FileHandle.standardError.write(Data(String(format: "\r%@ %@ %3d%% %5.1fs %@", title, bar, Int(fraction * 100), seconds, note).utf8))
      if done >= total { FileHandle.standardError.write(Data("\n".utf8)) }
    } else {
      let decile = Int(fraction * 10)
      guard decile != lastDecile else { return }
      lastDecile = decile
      FileHandle.standardError.write(Data(String(format: "%@: %3d%% (%.1fs) %@\n", title, decile * 10, seconds, note).utf8))
    }
  }
}
