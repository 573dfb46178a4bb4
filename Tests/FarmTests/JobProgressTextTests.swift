import Farm
import XCTest

/// The lines `redub watch` prints, from statuses made by hand.
final class JobProgressTextTests: XCTestCase {
  func stage(_ name: String, total: UInt32, done: UInt32 = 0, running: UInt32 = 0, waiting: UInt32 = 0, failed: UInt32 = 0,
             fraction: Double = 0, eta: Double = -1) -> Redub_V1_StageStatus {
    .with {
      $0.stage = name
      $0.total = total
      $0.done = done
      $0.running = running
      $0.waiting = waiting
      $0.failed = failed
      $0.runningFraction = fraction
      $0.etaSeconds = eta
    }
  }

  func testStagesWithBarsCountsAndETA() {
    let status = Redub_V1_JobStatus.with {
      $0.jobID = "j1"
      $0.name = "edit-clip"
      $0.state = "running"
      $0.tasksTotal = 15
      $0.tasksDone = 3
      $0.stages = [
        stage("prepare", total: 1, done: 1),
        stage("optimize", total: 10, done: 2, running: 2, waiting: 6, fraction: 0.5, eta: 125),
        stage("encode", total: 4, waiting: 4),
      ]
      // Running windows report their loss terms; a finished one's are not shown.
      $0.tasks = [
        .with {
          $0.key = "optimize-0002"; $0.stage = "optimize"; $0.state = "leased"; $0.iteration = 120; $0.total = 300
          $0.losses = [.with { $0.name = "lpips"; $0.value = 0.16243 }, .with { $0.name = "fan"; $0.value = 354.09 }]
        },
        .with { $0.key = "optimize-0003"; $0.stage = "optimize"; $0.state = "leased"; $0.iteration = 3; $0.total = 300 },
        .with { $0.key = "optimize-0000"; $0.stage = "optimize"; $0.state = "done"; $0.losses = [.with { $0.name = "lpips" }] },
      ]
    }
    XCTAssertEqual(JobProgressText.lines(status, barWidth: 10), [
      "job j1 (edit-clip): running, 3/15 tasks",
      "  prepare      ██████████ 100%  done 1  running 0  waiting 0  failed 0",
      // (2 done + 2 running × 0.5) / 10 = 30 %.
      "  optimize     ███·······  30%  done 2  running 2  waiting 6  failed 0  ETA 2m05s",
      "    optimize-0002  120/300  lpips 0.1624  fan 354.1",
      "  encode       ··········   0%  done 0  running 0  waiting 4  failed 0",
    ])
  }

  func testFailedJobShowsItsErrorAndNoETAWithoutRunningTasks() {
    let status = Redub_V1_JobStatus.with {
      $0.jobID = "j2"
      $0.name = "doomed"
      $0.state = "failed"
      $0.tasksTotal = 2
      $0.tasksDone = 1
      $0.error = "task tune-0 failed after 3 attempts: out of memory"
      $0.stages = [stage("a-very-long-stage-name", total: 2, done: 1, failed: 1, eta: 30)]
    }
    XCTAssertEqual(JobProgressText.lines(status, barWidth: 4), [
      "job j2 (doomed): failed, 1/2 tasks",
      "  a-very-long-stage-name ██··  50%  done 1  running 0  waiting 0  failed 1",
      "  error: task tune-0 failed after 3 attempts: out of memory",
    ])
  }

  func testProgressIsClampedAndDurationsRead() {
    XCTAssertEqual(JobProgressText.progress(stage("x", total: 0)), 0)
    XCTAssertEqual(JobProgressText.progress(stage("x", total: 2, done: 1, running: 1, fraction: 7)), 1)
    XCTAssertEqual(JobProgressText.progress(stage("x", total: 2, running: 1, fraction: -.infinity)), 0)
    XCTAssertEqual(JobProgressText.progress(stage("x", total: 4, running: 1, fraction: .nan)), 0)
    XCTAssertEqual(JobProgressText.duration(0.4), "0s")
    XCTAssertEqual(JobProgressText.duration(59.6), "1m00s")
    XCTAssertEqual(JobProgressText.duration(7_620), "2h07m")
    XCTAssertEqual(JobProgressText.duration(.infinity), "?")
  }
}
