import Foundation
import XCTest

@testable import Dubbing

/// The edit job's task graph: what each task reads, and that it only reads what it waits for.
final class EditJobPlanTests: XCTestCase {
  func testFollowUpsReadOnlyWhatTheyDependOn() throws {
    var settings = EditSettings()
    settings.chunkFrames = 4
    settings.windowLength = 4
    settings.overlap = 1
    let base = EditTaskParameters(settings: settings, cropSize: 64, hasLandmarks: true)
    let prepare = EditJobPlan.prepare(base)
    XCTAssertEqual(Set(prepare.inputs.map(\.name)), ["clip", "audio", "landmarks", "model.audioToLandmarks"])
    let undetected = EditJobPlan.prepare(EditTaskParameters(settings: settings, cropSize: 64, hasLandmarks: false))
    XCTAssertEqual(Set(undetected.inputs.map(\.name)), ["clip", "audio", "model.audioToLandmarks", "model.detector", "model.fan"])

    // 9 frames with a face: 3 chunks of ≤ 4, windows 0–3, 3–6, 6–8.
    let tasks = EditJobPlan.followUps(base, editableCount: 9)
    XCTAssertEqual(tasks.map(\.key), ["invert-00000", "invert-00001", "invert-00002", "tune", "optimize-0000", "optimize-0001",
                                      "optimize-0002", "merge", "stitch-00000", "stitch-00001", "stitch-00002", "composite"])
    var declared: Set<String> = ["prepare"]
    for task in tasks {
      XCTAssertEqual(task.parameters.editableCount, 9)
      for dependency in task.dependsOn { XCTAssertTrue(declared.contains(dependency), "\(task.key) waits for undeclared \(dependency)") }
      for binding in task.inputs {
        if let job = binding.jobInput {
          XCTAssertTrue(["clip", "audio"].contains(job) || job.hasPrefix("model."), "\(task.key) reads job input \(job)")
        } else {
          XCTAssertTrue(task.dependsOn.contains(binding.task!), "\(task.key) reads \(binding.task!) without waiting for it")
        }
      }
      XCTAssertEqual(Set(task.inputs.map(\.name)).count, task.inputs.count, "\(task.key) has an input name twice")
      declared.insert(task.key)
    }
    // The middle window (frames 3–6, boundaries 2 and 7) reads crops of chunks 0–1 and pivots of 0–1.
    let middle = tasks.first { $0.key == "optimize-0001" }!
    XCTAssertEqual(middle.parameters.index, 1)
    XCTAssertEqual(Set(middle.inputs.map(\.name)), ["crops-00000", "crops-00001", "pivots-00000", "pivots-00001", "generator",
                                                    "model.lpips", "model.fan"])
    // The last window's right boundary does not exist; its left one (frame 5) is in chunk 1.
    let last = tasks.first { $0.key == "optimize-0002" }!
    XCTAssertEqual(Set(last.inputs.map(\.name).filter { $0.hasPrefix("pivots") }), ["pivots-00001", "pivots-00002"])
    XCTAssertEqual(tasks.last!.exports, ["video": "video"])
    XCTAssertEqual(tasks.first { $0.key == "merge" }!.exports, ["latents": "latents"])
    // A second pass: each window from its first solution, tied to its neighbours' first pass.
    var twoPass = base
    twoPass.settings.boundaryPasses = 2
    let passes = EditJobPlan.followUps(twoPass, editableCount: 9)
    let second = passes.first { $0.key == "optimize2-0001" }!
    XCTAssertEqual(second.parameters.pass, 2)
    XCTAssertEqual(Set(second.dependsOn), ["prepare", "tune", "optimize-0000", "optimize-0001", "optimize-0002"])
    XCTAssertEqual(Set(second.inputs.map(\.name).filter { $0.hasPrefix("window") }), ["window-0000", "window-0001", "window-0002"])
    XCTAssertEqual(passes.first { $0.key == "merge" }!.dependsOn, ["optimize2-0000", "optimize2-0001", "optimize2-0002"])
    XCTAssertEqual(passes.count, tasks.count + 3)

    // Parameters travel as JSON and come back equal.
    XCTAssertEqual(try EditTaskParameters.decode(middle.parameters.encoded()), middle.parameters)
  }
}
