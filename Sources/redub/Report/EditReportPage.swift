import Dubbing
import Foundation
import Media

/// `report.html` for a finished edit: one self-contained page with the summary, per-stage
/// times, loss curves per task, the seam at each window boundary, each optimizing task's first
/// and last loss terms, the frames skipped for lack of a face, and a contact sheet of original
/// against edited frames (and the ground truth, when there is one). The pictures are also
/// written as PNG files beside it (`NAME.stages.png`, `NAME.losses.png`, `NAME.seams.png`,
/// `NAME.contact.png`).
enum EditReportPage {
  /// Writes the page for `report`, reading frames from `clip` (the original), the output and
  /// `groundTruth` (a clip of what the edit should look like, frame for frame); returns the
  /// files written.
  @discardableResult
  static func write(_ report: EditReport, clip: String, groundTruth: String? = nil, to url: URL, sheetFrames: Int = 4) throws -> [URL] {
    var html = """
      <!doctype html><html><head><meta charset="utf-8"><title>redub edit report</title>
      <style>body{font:14px sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}
      td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#eee}
      td:first-child,th:first-child{text-align:left}img{image-rendering:pixelated;margin:2px}</style>
      </head><body><h1>redub edit report</h1>
      """
    html += "<p>Output: <code>\(escape(report.output))</code></p>"
    if let note = report.demoModelsNote {
      html += "<p><b>Note: \(escape(note)).</b></p>"
    }
    html += "<table><tr><th>frames</th><td>\(report.frames)</td></tr><tr><th>edited</th><td>\(report.edited)</td></tr>"
    html += "<tr><th>without a face (unedited)</th><td>\(report.missing.isEmpty ? "none" : LandmarkTrackError.ranges(report.missing))</td></tr>"
    html += String(format: "<tr><th>seam metric</th><td>%.3f</td></tr></table>", report.seamMetric)
    for note in report.notes { html += "<p>Note: \(escape(note))</p>" }

    html += "<h2>Stage times</h2>" + stageChart(report)
    var written = [url]
    let base = url.deletingPathExtension()
    for (name, title, plot) in [("losses", "Loss curves", ReportPlots.lossCurves(report)),
                                ("seams", "Seam at each window boundary", ReportPlots.seams(report)),
                                ("stages", nil, ReportPlots.stageTimes(report))] {
      guard let plot else { continue }
      let png = plot.png()
      let file = base.appendingPathExtension("\(name).png")
      try png.write(to: file, options: .atomic)
      written.append(file)
      if let title { html += "<h2>\(title)</h2><img alt=\"\(name)\" src=\"data:image/png;base64,\(png.base64EncodedString())\">" }
    }
    html += "<h2>Loss terms, first and last step of each task</h2>" + lossTable(report)
    html += "<h2>Frames skipped for lack of a face</h2>"
    html += report.missing.isEmpty ? "<p id=\"skipped\">none: every frame had a face and was edited</p>"
      : "<p id=\"skipped\">\(report.missing.count) of \(report.frames) frames left as they were: \(LandmarkTrackError.ranges(report.missing))</p>"
    let columns = ["original", "edited"] + (groundTruth == nil ? [] : ["ground truth"])
    html += "<h2>" + columns.joined(separator: ", ").capitalizedFirst + " frames</h2>"
    if report.frames > 0, FileManager.default.fileExists(atPath: report.output),
       let sheet = contactSheet(try sheetRows(report, clip: clip, groundTruth: groundTruth, count: sheetFrames),
                                columns: columns, missing: Set(report.missing)) {
      let png = sheet.png()
      let file = base.appendingPathExtension("contact.png")
      try png.write(to: file, options: .atomic)
      written.append(file)
      html += "<img id=\"contact-sheet\" alt=\"contact sheet: \(columns.joined(separator: ", "))\" width=\"\(sheet.width)\" "
        + "height=\"\(sheet.height)\" src=\"data:image/png;base64,\(png.base64EncodedString())\">"
    } else {
      html += "<p>No output to show.</p>"
    }
    html += "</body></html>\n"
    try Data(html.utf8).write(to: url, options: .atomic)
    return written
  }

  static func escape(_ text: String) -> String {
    text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
  }

  /// Horizontal bars, one per stage that ran in this process, as inline SVG.
  static func stageChart(_ report: EditReport) -> String {
    let stages = EditStage.allCases.compactMap { s in report.seconds[s.rawValue].map { (s.rawValue, $0) } }
    guard let longest = stages.map(\.1).max(), longest > 0 else { return "<p>Every task was reused from an earlier run.</p>" }
    var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"\(stages.count * 22 + 4)\">"
    for (i, (name, seconds)) in stages.enumerated() {
      let y = i * 22 + 2, width = max(1, Int(440 * seconds / longest))
      svg += "<text x=\"0\" y=\"\(y + 15)\">\(name)</text><rect x=\"90\" y=\"\(y)\" width=\"\(width)\" height=\"18\" fill=\"#4a7bd0\"/>"
      svg += String(format: "<text x=\"%d\" y=\"%d\">%.1f s</text>", 96 + width, y + 15, seconds)
    }
    return svg + "</svg>"
  }

  static func lossTable(_ report: EditReport) -> String {
    let keys = report.lossCurves.keys.sorted()
    guard !keys.isEmpty else { return "<p>No optimizing task ran in this process.</p>" }
    let terms = Array(Set(report.lossCurves.values.flatMap { $0.flatMap(\.keys) })).sorted()
    var html = "<table><tr><th>task</th>" + terms.map { "<th>\($0)</th>" }.joined() + "</tr>"
    for key in keys {
      let curve = report.lossCurves[key]!
      html += "<tr><td>\(escape(key))</td>"
      for term in terms {
        let values = [curve.first, curve.last].compactMap { $0?[term] }
        html += "<td>" + values.map { String(format: "%.4g", $0) }.joined(separator: " → ") + "</td>"
      }
      html += "</tr>"
    }
    return html + "</table>"
  }

  /// One frame's pictures for the contact sheet: original, edited and (when given) ground truth.
  struct SheetRow {
    var frame: Int
    var seconds: Double
    var pictures: [RGBImage?]
  }

  /// `count` frames spread over the clip (seeking, so a long reel is not decoded whole): the
  /// original, the edited output and, when given, the ground truth, each read at the same index.
  static func sheetRows(_ report: EditReport, clip: String, groundTruth: String?, count: Int) throws -> [SheetRow] {
    let picks = Set((0..<count).map { min(report.frames - 1, ($0 * 2 + 1) * report.frames / (2 * count)) }).sorted()
    func frames(_ path: String) throws -> (rate: Double, images: [Int: RGBImage]) {
      let reader = try VideoReader(path: path)
      var found: [Int: RGBImage] = [:]
      for index in picks where index < reader.info.frameCount {
        try reader.seek(toFrame: index)
        if let frame = try reader.nextFrame() { found[index] = frame.image }
      }
      return (reader.info.frameRate.doubleValue, found)
    }
    let originals = try frames(clip), edited = try frames(report.output)
    let truth = try groundTruth.map { try frames($0).images }
    return picks.map { index in
      SheetRow(frame: index, seconds: originals.rate > 0 ? Double(index) / originals.rate : 0,
               pictures: [originals.images[index], edited.images[index]] + (truth.map { [$0[index]] } ?? []))
    }
  }

  /// The contact sheet: a header with the column names, then one row per picked frame, its
  /// index and time on the left, each picture scaled to fit a cell at most `cellSide` pixels
  /// wide (the original's aspect). A frame the edit skipped for lack of a face says so.
  static func contactSheet(_ rows: [SheetRow], columns: [String], missing: Set<Int>, cellSide: Int = 192) -> Canvas? {
    guard let reference = rows.lazy.compactMap({ $0.pictures.first ?? nil }).first else { return nil }
    let cell = reference.scaled(toFit: cellSide)
    let (label, header, gap) = (64, 14, 4)
    var canvas = Canvas(width: label + columns.count * (cell.width + gap), height: header + rows.count * (cell.height + gap),
                        background: (255, 255, 255))
    for (c, name) in columns.enumerated() { canvas.text(name, x: label + c * (cell.width + gap), y: 3) }
    for (r, row) in rows.enumerated() {
      let y = header + r * (cell.height + gap)
      canvas.text("frame \(row.frame)", x: 2, y: y + 2)
      canvas.text(String(format: "%.2f s", row.seconds), x: 2, y: y + 12)
      if missing.contains(row.frame) { canvas.text("no face", x: 2, y: y + 22, (200, 60, 40)) }
      for (c, picture) in row.pictures.enumerated() {
        let x = label + c * (cell.width + gap)
        guard let picture else {
          canvas.fill(x: x, y: y, width: cell.width, height: cell.height, (230, 230, 230))
          canvas.text("none", x: x + 4, y: y + 4, (120, 120, 120))
          continue
        }
        // Pictures of another size (a ground truth at its own resolution) fit the cell, centred.
        let scale = min(Double(cell.width) / Double(picture.width), Double(cell.height) / Double(picture.height))
        let fitted = picture.scaled(toFit: max(1, Int(Double(max(picture.width, picture.height)) * scale)))
        canvas.draw(fitted, x: x + (cell.width - fitted.width) / 2, y: y + (cell.height - fitted.height) / 2)
      }
    }
    return canvas
  }

  /// A 24-bit uncompressed BMP (rows bottom-up, BGR, padded to 4 bytes): every browser shows it.
  static func bmp(_ image: RGBImage) -> Data {
    let row = (image.width * 3 + 3) / 4 * 4, size = 54 + row * image.height
    var data = Data()
    func u16(_ v: Int) { data.append(contentsOf: [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)]) }
    func u32(_ v: Int) { u16(v & 0xffff); u16(v >> 16 & 0xffff) }
    data.append(contentsOf: Array("BM".utf8)); u32(size); u32(0); u32(54)
    u32(40); u32(image.width); u32(image.height); u16(1); u16(24); u32(0); u32(row * image.height); u32(2835); u32(2835); u32(0); u32(0)
    for y in stride(from: image.height - 1, through: 0, by: -1) {
      for x in 0..<image.width {
        let i = (y * image.width + x) * 3
        data.append(contentsOf: [image.pixels[i + 2], image.pixels[i + 1], image.pixels[i]])
      }
      data.append(contentsOf: [UInt8](repeating: 0, count: row - image.width * 3))
    }
    return data
  }
}

extension String {
  /// The text with its first letter in upper case ("original, edited" → "Original, edited").
  var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
