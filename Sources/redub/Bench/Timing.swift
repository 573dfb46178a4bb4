import Foundation

/// Times `body` repeatedly for at least `minTime` seconds (after one warm-up call) and returns
/// the fastest call in seconds: the least disturbed by other load on a shared machine.
func fastestTime(minTime: Double, _ body: () -> Void) -> Double {
  body()
  let clock = ContinuousClock()
  var best = Double.infinity
  var spent = 0.0
  var runs = 0
  while spent < minTime || runs < 3 {
    let elapsed = clock.measure(body)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    best = min(best, seconds)
    spent += seconds
    runs += 1
  }
  return best
}

/// Prints rows as an aligned table, or as JSON lines.
struct BenchReport {
  let columns: [String]
  let json: Bool
  /// Text width of columns wider than the default 10 characters.
  let widths: [String: Int]
  private var printedHeader = false

  init(columns: [String], json: Bool, widths: [String: Int] = [:]) {
    self.columns = columns
    self.json = json
    self.widths = widths
  }

  mutating func add(_ values: [String: Any]) {
    if json {
      let data = (try? JSONSerialization.data(withJSONObject: values, options: [.sortedKeys])) ?? Data()
      print(String(decoding: data, as: UTF8.self))
    } else {
      if !printedHeader {
        print(columns.map { $0.padding(toLength: width($0), withPad: " ", startingAt: 0) }.joined(separator: " "))
        printedHeader = true
      }
      let cells = columns.map { column -> String in
        let text: String
        switch values[column] {
        case let d as Double: text = String(format: d >= 100 ? "%.1f" : "%.3g", d)
        case let v?: text = "\(v)"
        case nil: text = "-"
        }
        return text.padding(toLength: width(column), withPad: " ", startingAt: 0)
      }
      print(cells.joined(separator: " "))
    }
    fflush(nil)  // flush every stream: rows appear as they are measured
  }

  private func width(_ column: String) -> Int { max(column.count, 10, widths[column] ?? 0) }
}
