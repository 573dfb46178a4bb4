import ArgumentParser
import Dubbing
import Foundation
import Media
import Networks

/// `redub tools landmarks VIDEO --output L.safetensors`: S3FD detection, tracking and FAN
/// landmarks over a whole clip.
struct LandmarksTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "landmarks",
    abstract: "Detect, track and place 68 FAN landmarks on the face in every frame of a clip.",
    discussion: """
      S3FD finds the face on the first frame, on every scene cut and whenever tracking is lost \
      (the mean FAN heatmap peak drops below --minimum-score); otherwise the previous frame's \
      landmarks give the next FAN crop. Writes `landmarks` [frames, 68, 2] in frame pixels, \
      `face_found` [frames] (1/0), `landmark_scores` [frames, 68] and `source` [frames] \
      (0 none, 1 detected, 2 tracked), with width, height and frame_rate in the metadata. \
      Frames without a face are listed by index; with --on-missing-face skip (default) their \
      landmarks are zero and the job leaves them unedited, with fail the command exits 1 and \
      writes nothing.
      """)

  enum MissingFacePolicy: String, ExpressibleByArgument, CaseIterable { case skip, fail }

  @OptionGroup var runtime: RuntimeOptions

  @Argument(help: ArgumentHelp("The clip (any video FFmpeg reads).", valueName: "video"))
  var video: String

  @Option(help: ArgumentHelp("Where to write the landmarks (safetensors).", valueName: "file"))
  var output: String

  @Option(help: ArgumentHelp("S3FD weights (scripts/convert_checkpoints.py s3fd).", valueName: "file"))
  var detector: String

  @Option(help: ArgumentHelp("FAN weights (scripts/convert_checkpoints.py fan).", valueName: "file"))
  var fan: String

  @Option(help: "What a frame without a face does: skip (report it, zero landmarks) or fail.")
  var onMissingFace: MissingFacePolicy = .skip

  @Option(help: "Mean FAN heatmap peak below which tracking is lost and the detector runs again.")
  var minimumScore: Float = 0.2

  @Option(help: "Mean absolute luma change (0…1) between frames that counts as a scene cut.")
  var sceneCutThreshold = 0.12

  @Option(help: "Longest side, in pixels, of the frame the detector sees.")
  var detectionSize = 640

  @Option(help: "Only the first N frames (0: all).")
  var frames = 0

  func validate() throws {
    if detectionSize < 32 { throw ValidationError("--detection-size must be at least 32.") }
    if frames < 0 { throw ValidationError("--frames must not be negative.") }
    if !(0...1).contains(sceneCutThreshold) { throw ValidationError("--scene-cut-threshold must be in 0…1.") }
  }

  func run() throws {
    runtime.apply()
    let s3fd = try loadWeights("S3FD", from: detector, S3FD.init(contentsOf:))
    let fanNetwork = try loadWeights("FAN", from: fan, FAN.init(contentsOf:))
    let reader = try VideoReader(path: video)
    let total = frames > 0 ? min(frames, reader.info.frameCount) : reader.info.frameCount
    var tracker = LandmarkTracker(
      detector: S3FDFaceDetector(network: s3fd, maximumSide: detectionSize),
      estimator: FANLandmarkEstimator(network: fanNetwork),
      settings: .init(minimumScore: minimumScore, sceneCutThreshold: sceneCutThreshold))
    var results: [TrackedLandmarks] = []
    var progress = ProgressBar(title: "landmarks", total: total)
    while results.count < total, let frame = try reader.nextFrame() {
      results.append(tracker.track(frame.image))
      progress.update(results.count, note: "\(results.count)/\(total) frames, \(tracker.detections) detections")
    }
    let track = LandmarkTrack(frames: results, width: reader.info.displayWidth, height: reader.info.displayHeight,
                              frameRate: reader.info.frameRate.doubleValue)
    let missing = track.missingFrames
    if !missing.isEmpty && onMissingFace == .fail { throw LandmarkTrackError.missingFaces(missing) }
    try track.write(to: URL(fileURLWithPath: output))
    var summary = "\(results.count) frames, \(results.count - missing.count) with a face; the detector ran on \(tracker.detections)"
    if !tracker.sceneCuts.isEmpty { summary += "; scene cuts at \(LandmarkTrackError.ranges(tracker.sceneCuts))" }
    print(summary)
    if !missing.isEmpty { print("no face in frame(s) \(LandmarkTrackError.ranges(missing)) (left unedited)") }
    print("wrote \(output)")
  }
}
