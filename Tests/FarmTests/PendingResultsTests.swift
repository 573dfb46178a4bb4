@testable import Farm
import Foundation
import XCTest

final class PendingResultsTests: XCTestCase {
  func result(_ taskID: UInt64, _ value: String) -> Redub_V1_TaskResult {
    .with {
      $0.taskID = taskID
      $0.epoch = 2
      $0.outputs = [.with { $0.name = "sum"; $0.inlineData = Data(value.utf8); $0.size = UInt64(value.utf8.count) }]
    }
  }

  func testResultsSurviveReopeningUntilRemovedAndATornRecordIsIgnored() throws {
    let folder = TemporaryFolder("pending")
    let log = folder.url.appendingPathComponent("results.log")
    do {
      let pending = try PendingResults(folder: folder.url)
      XCTAssertTrue(pending.loaded.isEmpty)
      try pending.add(result(1, "one"))
      try pending.add(result(2, "two"))
      try pending.add(result(3, "three"))
      pending.remove(2)
      XCTAssertEqual(pending.count, 2)
    }
    // A worker killed halfway through writing a record leaves a torn tail.
    let handle = try FileHandle(forWritingTo: log)
    try handle.seekToEnd()
    try handle.write(contentsOf: Data([1, 4, 0, 0, 0, 0, 0, 0, 0, 200, 0, 0, 0, 9, 9]))
    try handle.close()
    // A result kept by an older version as a file of its own is picked up too.
    try result(7, "seven").serializedData().write(to: folder.url.appendingPathComponent("7.result"))

    let reopened = try PendingResults(folder: folder.url)
    XCTAssertEqual(reopened.loaded, [1: result(1, "one"), 3: result(3, "three"), 7: result(7, "seven")])
    XCTAssertEqual(reopened.count, 3)
    XCTAssertFalse(FileManager.default.fileExists(atPath: folder.url.appendingPathComponent("7.result").path))
    reopened.remove(1)
    reopened.remove(7)
    XCTAssertEqual(try PendingResults.parse(Data(contentsOf: log)), [3: result(3, "three")])
    // With nothing pending the log is empty.
    reopened.remove(3)
    XCTAssertEqual(try Data(contentsOf: log).count, 0)
    try reopened.add(result(4, "four"))
    XCTAssertEqual(try PendingResults(folder: folder.url).loaded, [4: result(4, "four")])
  }

  func testAResultWithFollowUpTasksSurvivesAWorkerRestart() throws {
    let folder = TemporaryFolder("pending")
    var grown = result(9, "9")
    grown.followUpTasks = (0..<3).map { index in
      .with {
        $0.key = "part-\(index)"
        $0.stage = "part"
        $0.taskKind = SumTask.kind
        $0.parameters = Data("{\"value\": \(index)}".utf8)
        $0.dependsOn = ["prepare"]
        $0.inputs = [.with { $0.name = "n"; $0.task = "prepare"; $0.output = "n" }]
        $0.exports = index == 2 ? ["sum": "parts/last.txt"] : [:]
      }
    }
    do {
      let pending = try PendingResults(folder: folder.url)
      try pending.add(grown)
      try pending.add(result(10, "ten"))
    }
    let reopened = try PendingResults(folder: folder.url)
    XCTAssertEqual(reopened.loaded[9], grown)
    XCTAssertEqual(reopened.loaded[9]?.followUpTasks.map(\.key), ["part-0", "part-1", "part-2"])
    XCTAssertEqual(reopened.loaded[9]?.followUpTasks.last?.exports, ["sum": "parts/last.txt"])
    XCTAssertEqual(reopened.loaded[10]?.followUpTasks, [])
  }
}
