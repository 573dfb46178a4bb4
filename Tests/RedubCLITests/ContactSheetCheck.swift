import Foundation
import Media
import XCTest

/// Checks a report's contact sheet (`NAME.report.contact.png` or `report.contact.png`) against
/// the clips it shows: its size follows the layout (a 64-pixel label column, a 14-pixel header,
/// cells of the clip's size with 4-pixel gaps), and each cell is that clip's frame, pixel for pixel.
enum ContactSheetCheck {
  static let (label, header, gap) = (64, 14, 4)

  /// `columns`: the clips of the columns in order (original, edited, ground truth); `frames`:
  /// the frame index of each row.
  static func verify(_ sheet: String, columns: [String], frames: [Int], file: StaticString = #filePath, line: UInt = #line) throws {
    let picture = try XCTUnwrap(try VideoReader(path: sheet).nextFrame(), file: file, line: line).image
    let clips = try columns.map { try decode($0) }
    let (width, height) = (clips[0][0].width, clips[0][0].height)
    XCTAssertEqual(picture.width, label + columns.count * (width + gap), "width: \(columns.count) columns", file: file, line: line)
    XCTAssertEqual(picture.height, header + frames.count * (height + gap), "height: \(frames.count) rows", file: file, line: line)
    guard picture.width == label + columns.count * (width + gap), picture.height == header + frames.count * (height + gap) else { return }
    for (row, frame) in frames.enumerated() {
      for (column, clip) in clips.enumerated() {
        let expected = clip[frame]
        let (x0, y0) = (label + column * (width + gap), header + row * (height + gap))
        var differing = 0
        for y in 0..<height {
          for x in 0..<width {
            let s = ((y0 + y) * picture.width + x0 + x) * 3, e = (y * width + x) * 3
            if picture.pixels[s..<(s + 3)] != expected.pixels[e..<(e + 3)] { differing += 1 }
          }
        }
        XCTAssertEqual(differing, 0, "row \(row) (frame \(frame)), column \(column) (\(columns[column]))", file: file, line: line)
      }
    }
  }

  static func decode(_ path: String) throws -> [RGBImage] {
    let reader = try VideoReader(path: path)
    var frames: [RGBImage] = []
    while let frame = try reader.nextFrame() { frames.append(frame.image) }
    return frames
  }
}
