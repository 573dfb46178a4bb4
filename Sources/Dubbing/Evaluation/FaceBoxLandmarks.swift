import Foundation
import Media
import Networks

/// Landmarks measured by a landmark network inside face boxes taken from a known landmark track
/// (each frame's box is the bounding box of that frame's known landmarks, the box the tracker
/// uses), instead of a face detector: for clips whose face positions are known, such as the demo
/// world's, where no detector is trained. The boxes usually come from the reference clip, so the
/// edited clip and the reference are measured through the same crops.
public struct FaceBoxLandmarks<Estimator: LandmarkEstimating>: FrameLandmarkSource {
  /// The track whose frames give the boxes.
  public let boxes: LandmarkTrack
  public let estimator: Estimator
  /// The box file, for messages.
  public let path: String

  public init(boxes: LandmarkTrack, estimator: Estimator, path: String) {
    self.boxes = boxes
    self.estimator = estimator
    self.path = path
  }

  /// Reads the boxes from a landmark file (`redub tools landmarks`, or a demo clip's
  /// `clip_landmarks.safetensors`).
  public init(contentsOf url: URL, estimator: Estimator) throws {
    let recorded = try RecordedLandmarks(contentsOf: url)
    self.init(boxes: recorded.track, estimator: estimator, path: url.path)
  }

  public func check(clip: String, frameCount: Int, width: Int, height: Int) throws {
    try RecordedLandmarks(track: boxes, path: path).check(clip: clip, frameCount: frameCount, width: width, height: height)
  }

  /// The face box of frame `index`: its known landmarks' bounding box; nil where the track has
  /// no face or the box is under 4 pixels (no FAN crop can be made from it).
  public func box(frame index: Int) -> FaceBox? {
    let known = boxes.frames[index]
    guard known.faceFound else { return nil }
    let xs = known.points.map(\.x), ys = known.points.map(\.y)
    guard let x1 = xs.min(), let x2 = xs.max(), let y1 = ys.min(), let y2 = ys.max(), (x1 + x2 + y1 + y2).isFinite,
          x2 - x1 >= 4, y2 - y1 >= 4 else { return nil }
    return FaceBox(x1: x1, y1: y1, x2: x2, y2: y2)
  }

  public mutating func landmarks(frame index: Int, image: RGBImage) -> TrackedLandmarks {
    guard let box = box(frame: index) else { return .missing }
    let (points, scores) = estimator.landmarks(in: image, frame: FANCropFrame(box: box))
    return TrackedLandmarks(points: points, scores: scores, source: .detected)
  }
}
