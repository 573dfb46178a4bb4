import Dubbing
import Foundation

/// The report's plots as PNG: stage times, loss curves per task, the seam at each boundary.
enum ReportPlots {
  static let palette: [(UInt8, UInt8, UInt8)] = [(74, 123, 208), (214, 96, 77), (80, 160, 90), (150, 100, 190),
                                                 (230, 160, 40), (40, 170, 170), (120, 120, 120), (200, 80, 150)]

  /// Horizontal bars, one per stage that ran, labelled with its seconds. Nil when none ran.
  static func stageTimes(_ report: EditReport) -> Canvas? {
    let stages = EditStage.allCases.compactMap { s in report.seconds[s.rawValue].map { (s.rawValue, $0) } }
    guard let longest = stages.map(\.1).max(), longest > 0 else { return nil }
    var canvas = Canvas(width: 560, height: stages.count * 20 + 30)
    canvas.text("task seconds per stage", x: 8, y: 6)
    for (i, (name, seconds)) in stages.enumerated() {
      let y = 24 + i * 20, width = max(1, Int(360 * seconds / longest))
      canvas.text(name, x: 8, y: y + 4)
      canvas.fill(x: 90, y: y, width: width, height: 14, palette[0])
      canvas.text(String(format: "%.1f s", seconds), x: 96 + width, y: y + 4)
    }
    return canvas
  }

  /// A panel per stage and loss term: one line per task (window) over its sampled steps, each
  /// panel scaled to its own range (printed at its corners). Nil when no task has a curve.
  static func lossCurves(_ report: EditReport) -> Canvas? {
    var panels: [(title: String, lines: [[Double]])] = []
    for stage in EditStage.allCases {
      let keys = report.lossCurves.keys.filter { $0.hasPrefix(stage.rawValue) }.sorted()
      let terms = Set(keys.flatMap { report.lossCurves[$0]!.flatMap(\.keys) }).sorted()
      for term in terms {
        let lines = keys.map { report.lossCurves[$0]!.compactMap { $0[term] } }.filter { $0.count > 1 }
        if !lines.isEmpty { panels.append(("\(stage.rawValue): \(term)", lines)) }
      }
    }
    guard !panels.isEmpty else { return nil }
    let panelWidth = 300, panelHeight = 170, columns = 2
    var canvas = Canvas(width: columns * panelWidth, height: (panels.count + columns - 1) / columns * panelHeight)
    for (n, panel) in panels.enumerated() {
      let x0 = (n % columns) * panelWidth, y0 = (n / columns) * panelHeight
      let values = panel.lines.flatMap { $0 }
      let low = values.min()!, high = values.max()!
      let span = high > low ? high - low : 1
      canvas.text(panel.title, x: x0 + 8, y: y0 + 6)
      let left = x0 + 8, top = y0 + 30, width = panelWidth - 24, height = panelHeight - 60
      canvas.fill(x: left, y: top + height, width: width, height: 1, (160, 160, 160))
      canvas.fill(x: left, y: top, width: 1, height: height, (160, 160, 160))
      canvas.text(String(format: "%.4g", high), x: left + 4, y: top - 10, (90, 90, 90))
      canvas.text(String(format: "%.4g", low), x: left + 4, y: top + height + 4, (90, 90, 90))
      for (k, line) in panel.lines.enumerated() {
        let color = palette[k % palette.count]
        func point(_ i: Int) -> (Int, Int) {
          (left + i * (width - 1) / (line.count - 1), top + Int(Double(height - 1) * (1 - (line[i] - low) / span)))
        }
        for i in 1..<line.count {
          let (a, b) = (point(i - 1), point(i))
          canvas.line(a.0, a.1, b.0, b.1, color)
        }
      }
      canvas.text("\(panel.lines.count) task(s), first to last step", x: left + 4, y: top + height + 16, (90, 90, 90))
    }
    return canvas
  }

  /// A bar per window boundary (its seam: jump / median jump inside windows), with the goal
  /// 1.5 marked. Nil without boundaries.
  static func seams(_ report: EditReport) -> Canvas? {
    let seams = report.seams.compactMap { key, value in Int(key).map { ($0, value) } }.sorted { $0.0 < $1.0 }
    guard !seams.isEmpty else { return nil }
    let top = max(2, seams.map(\.1).max()!) * 1.1
    let barWidth = 18, height = 160, left = 40
    var canvas = Canvas(width: max(300, left + seams.count * (barWidth + 6) + 20), height: height + 50)
    canvas.text(String(format: "seam per boundary (metric %.3f)", report.seamMetric), x: 8, y: 6)
    func y(_ value: Double) -> Int { 24 + Int(Double(height) * (1 - value / top)) }
    for (i, (frame, value)) in seams.enumerated() {
      let x = left + i * (barWidth + 6)
      canvas.fill(x: x, y: y(value), width: barWidth, height: y(0) - y(value), value <= 1.5 ? palette[0] : palette[1])
      canvas.text("\(frame)", x: x, y: y(0) + 4, (90, 90, 90))
    }
    canvas.fill(x: left - 4, y: y(1.5), width: seams.count * (barWidth + 6) + 8, height: 1, (214, 96, 77))
    canvas.text("1.5", x: 8, y: y(1.5) - 3, (214, 96, 77))
    canvas.text("1", x: 8, y: y(1) - 3, (90, 90, 90))
    canvas.fill(x: left - 4, y: y(0), width: seams.count * (barWidth + 6) + 8, height: 1, (160, 160, 160))
    return canvas
  }
}
