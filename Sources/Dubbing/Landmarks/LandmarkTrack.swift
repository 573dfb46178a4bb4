import Foundation
import Networks
import Tensors

/// A clip's landmarks, one entry per frame, and their file form:
/// `landmarks` [frames, 68, 2] (x, y in frame pixels; zero where no face), `face_found` [frames]
/// (1 or 0), `landmark_scores` [frames, 68] (FAN heatmap peaks) and `source` [frames]
/// (0 none, 1 detected, 2 tracked), with the frame size and rate in the metadata.
public struct LandmarkTrack: Sendable, Equatable {
  public var frames: [TrackedLandmarks]
  public var width: Int
  public var height: Int
  /// Frames per second of the clip (its average rate).
  public var frameRate: Double

  public init(frames: [TrackedLandmarks], width: Int, height: Int, frameRate: Double) {
    self.frames = frames
    self.width = width
    self.height = height
    self.frameRate = frameRate
  }

  /// Indices of the frames without a face.
  public var missingFrames: [Int] { frames.indices.filter { !frames[$0].faceFound } }

  public func tensors() -> [String: Tensor] {
    let n = frames.count, k = FAN.landmarkCount
    return [
      "landmarks": Tensor(frames.flatMap { $0.points.flatMap { [Float($0.x), Float($0.y)] } }, shape: [n, k, 2]),
      "face_found": Tensor(frames.map { $0.faceFound ? 1 : 0 }, shape: [n]),
      "landmark_scores": Tensor(frames.flatMap(\.scores), shape: [n, k]),
      "source": Tensor(frames.map { Float($0.source.rawValue) }, shape: [n]),
    ]
  }

  public var metadata: [String: String] {
    ["width": String(width), "height": String(height), "frame_rate": String(frameRate), "format": "redub.landmarks.v1"]
  }

  public func write(to url: URL) throws {
    try SafeTensors.write(tensors(), metadata: metadata, to: url)
  }

  public init(contentsOf url: URL) throws {
    let file = try SafeTensorsFile(contentsOf: url)
    let k = FAN.landmarkCount
    let points = try file.tensor("landmarks"), found = try file.tensor("face_found")
    let scores = try file.tensor("landmark_scores"), source = try file.tensor("source")
    let n = found.shape.dims.first ?? 0
    guard points.shape == [n, k, 2], scores.shape == [n, k], source.shape == [n], found.rank == 1 else {
      throw LandmarkTrackError.malformed(url.path, "landmarks \(points.shape), landmark_scores \(scores.shape), "
        + "source \(source.shape), face_found \(found.shape) do not describe [frames, 68, 2] landmarks")
    }
    guard let width = file.metadata["width"].flatMap(Int.init), let height = file.metadata["height"].flatMap(Int.init),
          let rate = file.metadata["frame_rate"].flatMap(Double.init) else {
      throw LandmarkTrackError.malformed(url.path, "metadata lacks width, height or frame_rate")
    }
    let p = points.scalars, s = scores.scalars, f = found.scalars, src = source.scalars
    let frames = (0..<n).map { i -> TrackedLandmarks in
      guard f[i] != 0 else { return .missing }
      return TrackedLandmarks(
        points: (0..<k).map { SIMD2(Double(p[(i * k + $0) * 2]), Double(p[(i * k + $0) * 2 + 1])) },
        scores: Array(s[(i * k)..<((i + 1) * k)]),
        source: LandmarkSource(rawValue: UInt8(src[i])) ?? .detected)
    }
    self.init(frames: frames, width: width, height: height, frameRate: rate)
  }
}

public enum LandmarkTrackError: Error, CustomStringConvertible, Equatable {
  case malformed(String, String)
  /// Frames without a face when the job asked to fail on them.
  case missingFaces([Int])

  public var description: String {
    switch self {
    case .malformed(let path, let why): "\(path) is not a landmark file: \(why)."
    case .missingFaces(let frames):
      "No face found in \(frames.count) frame(s): \(Self.ranges(frames)). Use --on-missing-face skip to leave them unedited."
    }
  }

  /// "3, 7–9, 12" for [3, 7, 8, 9, 12].
  public static func ranges(_ indices: [Int]) -> String {
    var parts: [String] = []
    var i = 0
    while i < indices.count {
      var j = i
      while j + 1 < indices.count && indices[j + 1] == indices[j] + 1 { j += 1 }
      parts.append(i == j ? "\(indices[i])" : "\(indices[i])–\(indices[j])")
      i = j + 1
    }
    return parts.joined(separator: ", ")
  }
}
