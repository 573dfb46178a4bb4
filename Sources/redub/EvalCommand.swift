import ArgumentParser
import Dubbing
import Foundation
import Media
import Networks

/// `redub eval EDITED --reference CLIP`: the paper's quality metrics for an edited clip.
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Measure an edited clip against its reference: PSNR, SSIM, LPIPS, landmark distances, lip-sync.",
    discussion: """
      Per frame and averaged, as the paper's Table I reports them: PSNR (dB, RGB in [0,1], \
      peak 1; identical frames give inf), SSIM (Wang et al. 2004: Gaussian window 11×11, \
      σ 1.5, K1 0.01, K2 0.03, L 1, the mean of the R, G, B channels, as scikit-image's \
      structural_similarity with gaussian_weights=True, use_sample_covariance=False), LPIPS \
      (lpips.safetensors from --models, on whole frames resized so the short side is 256), \
      F-LD (mean distance over the 68 landmarks) and M-LD (over the mouth, points 48–67) \
      between the edited and the reference clip's landmarks, in reference frame pixels, and \
      lip-sync: M-LD between the edited clip's mouth and --target-landmarks (the output of \
      `redub tools audio2landmarks`). Landmarks come from --edited-landmarks / \
      --reference-landmarks (`redub tools landmarks` files) or are detected with the models \
      folder's s3fd.safetensors and fan.safetensors, or, with --face-boxes, measured by \
      fan.safetensors inside face boxes taken from a landmark file (each frame's box is the \
      bounding box of that file's landmarks: give the reference clip's known landmarks when \
      no face detector is trained, as in the demo world); FAN heatmaps are decoded sub-pixel \
      (--landmark-decoding quarter-pixel gives face-alignment's points); frames without a face on either side are \
      left out of those means and listed. Without --models, LPIPS (and detected landmarks) are \
      left out with a note. Both clips must have the same frame count and size. \
      --json prints the whole result (every frame and the means) as JSON; --output FILE also \
      writes it to a file.
      """)

  @Argument(help: ArgumentHelp("The edited clip.", valueName: "edited"))
  var edited: String

  @Option(help: ArgumentHelp("The reference clip (the clip the edit was made from, or the ground truth).", valueName: "clip"))
  var reference: String

  @Option(help: ArgumentHelp("Target landmarks (redub tools audio2landmarks) for lip-sync.", valueName: "file"))
  var targetLandmarks: String?

  @Option(help: ArgumentHelp("Models folder: lpips.safetensors for LPIPS, s3fd + fan to detect landmarks.", valueName: "dir"))
  var models: String?

  @Option(help: ArgumentHelp("The edited clip's landmarks (redub tools landmarks) instead of detection.", valueName: "file"))
  var editedLandmarks: String?

  @Option(help: ArgumentHelp("The reference clip's landmarks (redub tools landmarks) instead of detection.", valueName: "file"))
  var referenceLandmarks: String?

  @Option(help: ArgumentHelp(
    "Landmarks (redub tools landmarks) whose per-frame bounding boxes replace face detection; needs --models with fan.safetensors.",
    valueName: "file"))
  var faceBoxes: String?

  @Option(help: "The short side, in pixels, frames are resized to for LPIPS.")
  var lpipsSize = 256

  @Option(help: "How FAN heatmaps become points: subpixel (the centroid around the maximum) or quarter-pixel (face-alignment's step; its grid is a quarter heatmap pixel).")
  var landmarkDecoding: LandmarkDecoding = .subpixel

  @Option(help: "Longest side, in pixels, of the frame the face detector sees.")
  var detectionSize = 640

  @Flag(help: "Print the whole result as JSON on standard output instead of the table.")
  var json = false

  @Flag(help: "Add a row per frame to the table.")
  var perFrame = false

  @Option(help: ArgumentHelp("Also write the JSON result to this file.", valueName: "file"))
  var output: String?

  @OptionGroup var runtime: RuntimeOptions

  func validate() throws {
    if lpipsSize < 16 { throw ValidationError("--lpips-size must be at least 16.") }
    if detectionSize < 32 { throw ValidationError("--detection-size must be at least 32.") }
  }

  enum LandmarkDecoding: String, ExpressibleByArgument, CaseIterable {
    case subpixel
    case quarterPixel = "quarter-pixel"

    var refinement: FANLandmarks.Refinement { self == .subpixel ? .subpixel : .quarterPixel }
  }

  func run() throws {
    runtime.apply()
    let inputs: [(String, String?)] = [
      ("edited clip", edited), ("reference clip", reference), ("target landmarks", targetLandmarks),
      ("edited landmarks", editedLandmarks), ("reference landmarks", referenceLandmarks), ("face boxes", faceBoxes),
    ]
    for case let (what, path?) in inputs where !FileManager.default.fileExists(atPath: path) {
      throw ValidationError("the \(what) \(path) does not exist.")
    }
    var notes: [String] = []
    var evaluator = EditEvaluator()
    var detect: (() throws -> any FrameLandmarkSource)?
    if faceBoxes != nil && models == nil {
      throw ValidationError("--face-boxes measures landmarks with a FAN: give --models with a folder holding \(ModelRole.fan.fileName).")
    }
    if let models {
      var isFolder: ObjCBool = false
      guard FileManager.default.fileExists(atPath: models, isDirectory: &isFolder), isFolder.boolValue else {
        throw ValidationError("the models folder \(models) does not exist.")
      }
      let folder = ModelFolder(URL(fileURLWithPath: models))
      if folder.has(.lpips) {
        evaluator.perceptual = PerceptualDistance(network: try folder.load(.lpips) { try LPIPS(contentsOf: $0) }, shortSide: lpipsSize)
      } else {
        notes.append("the models folder has no \(ModelRole.lpips.fileName)")
      }
      if let faceBoxes, editedLandmarks == nil || referenceLandmarks == nil {
        guard folder.has(.fan) else {
          throw ValidationError("--face-boxes needs \(ModelRole.fan.fileName) in the models folder \(models) (redub models demo writes one).")
        }
        let fan = try folder.load(.fan) { try FAN(contentsOf: $0) }
        let url = URL(fileURLWithPath: faceBoxes)
        let refinement = landmarkDecoding.refinement
        detect = { try FaceBoxLandmarks(contentsOf: url, estimator: FANLandmarkEstimator(network: fan, refinement: refinement)) }
      } else if editedLandmarks == nil || referenceLandmarks == nil {
        if folder.has(.detector) && folder.has(.fan) {
          let s3fd = try folder.load(.detector) { try S3FD(contentsOf: $0) }
          let fan = try folder.load(.fan) { try FAN(contentsOf: $0) }
          let size = detectionSize, refinement = landmarkDecoding.refinement
          detect = {
            LandmarkTracker(detector: S3FDFaceDetector(network: s3fd, maximumSide: size),
                            estimator: FANLandmarkEstimator(network: fan, refinement: refinement))
          }
        } else {
          notes.append("landmarks cannot be detected: the models folder lacks \(ModelRole.detector.fileName) or \(ModelRole.fan.fileName)")
        }
      }
    }
    func landmarks(_ file: String?) throws -> (any FrameLandmarkSource)? {
      if let file { return try RecordedLandmarks(contentsOf: URL(fileURLWithPath: file)) }
      return try detect?()
    }
    let target = try targetLandmarks.map { try RecordedLandmarks(contentsOf: URL(fileURLWithPath: $0)) }
    var bar: ProgressBar?
    let result = try evaluator.evaluate(
      edited: edited, reference: reference, editedLandmarks: try landmarks(editedLandmarks),
      referenceLandmarks: try landmarks(referenceLandmarks), target: target, notes: notes
    ) { done, total in
      if bar == nil { bar = ProgressBar(title: "eval", total: total) }
      bar!.update(done, note: "\(done)/\(total) frames")
    }
    let data = try result.jsonData()
    if let output { try data.write(to: URL(fileURLWithPath: output), options: .atomic) }
    if json {
      FileHandle.standardOutput.write(data + Data("\n".utf8))
      return
    }
    print(Self.table(result, perFrame: perFrame))
    if let output { print("wrote \(output)") }
  }

  /// The text summary: the means (and each frame's values with `perFrame`), then the notes.
  static func table(_ r: EditEvaluation, perFrame: Bool) -> String {
    func number(_ v: Double?, _ digits: Int) -> String {
      guard let v else { return "–" }
      if v == .infinity { return "inf" }
      return String(format: "%.\(digits)f", v)
    }
    func pad(_ s: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - s.count)) + s }
    var lines = ["\(r.frameCount) frames, \(r.width)×\(r.height): \(r.edited) against \(r.reference)"]
    let landmarkFrames = r.frames.filter { $0.fullLandmarkDistance != nil }.count
    let syncFrames = r.frames.filter { $0.lipSyncDistance != nil }.count
    let rows: [(String, String, String)] = [
      ("PSNR (dB)", number(r.means.psnr, 2), r.identicalFrames > 0 ? "\(r.identicalFrames) identical frame(s)" : ""),
      ("SSIM", number(r.means.ssim, 4), ""),
      ("LPIPS", number(r.means.lpips, 4), r.lpipsInputSize.map { "frames at \($0[1])×\($0[0])" } ?? "not computed"),
      ("F-LD (px)", number(r.means.fullLandmarkDistance, 3), "\(landmarkFrames) frame(s), 68 points"),
      ("M-LD (px)", number(r.means.mouthLandmarkDistance, 3), "\(landmarkFrames) frame(s), mouth 48–67"),
      ("lip-sync M-LD (px)", number(r.means.lipSyncDistance, 3),
       r.targetLandmarks == nil ? "no --target-landmarks" : "\(syncFrames) frame(s) against the target"),
    ]
    lines.append("metric               mean")
    for (name, value, note) in rows {
      lines.append(name.padding(toLength: 18, withPad: " ", startingAt: 0) + pad(value, 10) + (note.isEmpty ? "" : "   " + note))
    }
    if perFrame {
      lines.append("")
      lines.append(" frame   PSNR dB     SSIM    LPIPS     F-LD     M-LD     sync")
      for f in r.frames {
        lines.append(pad("\(f.index)", 6) + pad(number(f.psnr, 2), 10) + pad(number(f.ssim, 4), 9) + pad(number(f.lpips, 4), 9)
          + pad(number(f.fullLandmarkDistance, 3), 9) + pad(number(f.mouthLandmarkDistance, 3), 9) + pad(number(f.lipSyncDistance, 3), 9))
      }
    }
    lines.append("landmark distances are in \(EditEvaluation.landmarkUnit)")
    for note in r.notes { lines.append("note: \(note)") }
    return lines.joined(separator: "\n")
  }
}
