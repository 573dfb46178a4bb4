import DemoWorld
import Media
import Tensors
import XCTest

final class TalkingClipTests: XCTestCase {
  func testClipRoundTripsThroughTheMediaReader() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("demo-world-clip-\(getpid())")
    defer { try? FileManager.default.removeItem(at: folder) }
    let config = ClipConfiguration(sentenceA: "We will meet at noon.", sentenceB: "Maybe Bob can buy a map.",
                                   width: 96, height: 80, fps: 25, seed: 5, emotion: .happy, dubEmotion: .sad)
    let clip = try TalkingClip.make(config)
    XCTAssertEqual(clip.frameCount, Int((clip.speechB.duration * 25).rounded(.up)))
    let files = try clip.write(to: folder)

    for (video, audioSeconds) in [(files.clip, Double(clip.frameCount) / 25), (files.truth, clip.speechB.duration)] {
      let reader = try VideoReader(path: video.path)
      var frames = 0
      while let frame = try reader.nextFrame() {
        XCTAssertEqual(frame.image.width, 96)
        XCTAssertEqual(frame.image.height, 80)
        frames += 1
      }
      XCTAssertEqual(frames, clip.frameCount, video.lastPathComponent)
      let sound = try AudioReader.load(path: video.path, sampleRate: 16_000)
      XCTAssertEqual(sound.duration, audioSeconds, accuracy: 0.06, video.lastPathComponent)
    }
    let dub = try AudioReader.load(path: files.dub.path, sampleRate: nil)
    XCTAssertEqual(dub.sampleRate, clip.speechB.sampleRate)
    XCTAssertEqual(dub.frameCount, clip.speechB.samples.count)

    let original = try SafeTensorsFile(contentsOf: files.clipLandmarks), truth = try SafeTensorsFile(contentsOf: files.truthLandmarks)
    let a = try original.tensor("landmarks"), b = try truth.tensor("landmarks")
    XCTAssertEqual(a.shape.dims, [clip.frameCount, 68, 2])
    XCTAssertEqual(b.shape.dims, [clip.frameCount, 68, 2])
    XCTAssertEqual(original.metadata["format"], "redub.landmarks.v1")
    XCTAssertEqual(original.metadata["width"], "96")
    // Same head motion: the nose and the eye corners agree (the emotions differ in brows and
    // eye openness); the mouths differ.
    let (pa, pb) = (a.scalars, b.scalars)
    var mouthDifference: Float = 0
    for f in 0..<clip.frameCount {
      for k in Array(27...36) + [39, 42, 45] {
        for c in 0..<2 { XCTAssertEqual(pa[(f * 68 + k) * 2 + c], pb[(f * 68 + k) * 2 + c], accuracy: 1e-4) }
      }
      for k in 48...67 { mouthDifference += abs(pa[(f * 68 + k) * 2 + 1] - pb[(f * 68 + k) * 2 + 1]) }
    }
    XCTAssertGreaterThan(mouthDifference / Float(clip.frameCount * 20), 0.3, "the truth's mouth follows another sentence")
    let description = try JSONSerialization.jsonObject(with: Data(contentsOf: files.description)) as! [String: Any]
    XCTAssertEqual(description["frames"] as? Int, clip.frameCount)
  }

  func testHeadMotionAndBlinksAreSmoothAndSeeded() {
    let poses = HeadMotion().poses(frames: 250, fps: 25, base: HeadPose(), seed: 3)
    XCTAssertEqual(poses, HeadMotion().poses(frames: 250, fps: 25, base: HeadPose(), seed: 3))
    for (a, b) in zip(poses, poses.dropFirst()) {
      XCTAssertLessThan(abs(a.yaw - b.yaw), 0.03)
      XCTAssertLessThan(abs(a.center.x - b.center.x), 0.01)
    }
    let eyes = Blinks().openness(frames: 250, fps: 25, seed: 3)
    XCTAssertGreaterThanOrEqual(eyes.filter { $0 < 0.3 }.count, 2, "10 s have blinks")
    XCTAssertGreaterThan(eyes.filter { $0 > 0.99 }.count, 200, "eyes are mostly open")
  }
}
