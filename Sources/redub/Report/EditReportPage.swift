import Dubbing
import Foundation
import Media

/// `report.html` for a finished edit: one self-contained page with the summary, per-stage
/// times, loss curves per task, the seam at each window boundary, each optimizing task's first
/// and last loss terms, and a contact sheet of original against edited frames. The plots are
/// also written as PNG files beside it (`NAME.stages.png`, `NAME.losses.png`, `NAME.seams.png`).
enum EditReportPage {
  /// Writes the page for `report`, reading frames from `clip` (the original) and the output;
  /// returns the files written.
  @discardableResult
  static func write(_ report: EditReport, clip: String, to url: URL, sheetFrames: Int = 4) throws -> [URL] {
    var html = """
      <!doctype html><html><head><meta charset="utf-8"><title>redub edit report</title>
      <style>body{font:14px sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse}
      td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}th{background:#eee}
      td:first-child,th:first-child{text-align:left}img{image-rendering:pixelated;margin:2px}</style>
      </head><body><h1>redub edit report</h1>
      """
    html += "<p>Output: <code>\(escape(report.output))</code></p>"
    if report.demoModels {
      html += "<p><b>Demo models (seeded random weights): the pipeline ran; the edit means nothing.</b></p>"
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
    html += "<h2>Original and edited frames</h2>" + (try contactSheet(report, clip: clip, count: sheetFrames))
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

  /// `count` frames spread over the clip, original beside edited, at most 256 pixels wide.
  static func contactSheet(_ report: EditReport, clip: String, count: Int) throws -> String {
    guard report.frames > 0, FileManager.default.fileExists(atPath: report.output) else { return "<p>No output to show.</p>" }
    let picks = Set((0..<count).map { min(report.frames - 1, ($0 * 2 + 1) * report.frames / (2 * count)) })
    func frames(_ path: String) throws -> [Int: RGBImage] {
      // Seeking keeps a long reel's sheet from decoding every frame.
      let reader = try VideoReader(path: path)
      var found: [Int: RGBImage] = [:]
      for index in picks.sorted() {
        try reader.seek(toFrame: index)
        if let frame = try reader.nextFrame() { found[index] = frame.image }
      }
      return found
    }
    let originals = try frames(clip), edited = try frames(report.output)
    var html = "<table><tr><th>frame</th><th>original</th><th>edited</th></tr>"
    for index in picks.sorted() {
      guard let a = originals[index], let b = edited[index] else { continue }
      html += "<tr><td>\(index)</td><td>\(image(a))</td><td>\(image(b))</td></tr>"
    }
    return html + "</table>"
  }

  static func image(_ image: RGBImage) -> String {
    let small = downscaled(image, maxWidth: 256)
    return "<img alt=\"frame\" src=\"data:image/bmp;base64,\(bmp(small).base64EncodedString())\">"
  }

  /// Nearest-neighbour reduction (a contact sheet needs no filtering).
  static func downscaled(_ image: RGBImage, maxWidth: Int) -> RGBImage {
    guard image.width > maxWidth else { return image }
    let width = maxWidth, height = max(1, image.height * maxWidth / image.width)
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
      let sy = y * image.height / height
      for x in 0..<width {
        let sx = x * image.width / width
        for c in 0..<3 { pixels[(y * width + x) * 3 + c] = image.pixels[(sy * image.width + sx) * 3 + c] }
      }
    }
    return RGBImage(width: width, height: height, pixels: pixels)
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
