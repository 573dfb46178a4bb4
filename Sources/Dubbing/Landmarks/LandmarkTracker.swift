import Media
import Networks

/// Finds faces in a frame (image pixels). The product uses S3FD (`S3FDFaceDetector`).
public protocol FaceDetecting {
  func faces(in image: RGBImage) -> [FaceBox]
}

/// Places 68 landmarks on the face inside a crop frame. The product uses FAN
/// (`FANLandmarkEstimator`).
public protocol LandmarkEstimating {
  func landmarks(in image: RGBImage, frame: FANCropFrame) -> (points: [SIMD2<Double>], scores: [Float])
}

/// How a frame's landmarks were found.
public enum LandmarkSource: UInt8, Sendable {
  /// No face: the frame is reported by index and its landmarks are zero.
  case none = 0
  /// The detector ran on this frame (first frame, scene cut, or tracking lost).
  case detected = 1
  /// The previous frame's landmarks gave the crop.
  case tracked = 2
}

/// One frame's result.
public struct TrackedLandmarks: Sendable, Equatable {
  public var points: [SIMD2<Double>]
  public var scores: [Float]
  public var source: LandmarkSource
  public var faceFound: Bool { source != .none }

  public init(points: [SIMD2<Double>], scores: [Float], source: LandmarkSource) {
    self.points = points
    self.scores = scores
    self.source = source
  }

  public static let missing = TrackedLandmarks(
    points: Array(repeating: .zero, count: FAN.landmarkCount), scores: Array(repeating: 0, count: FAN.landmarkCount),
    source: .none)
}

/// Landmarks over a clip, frame after frame, as face-alignment is used for video: the detector
/// runs on the first frame, on scene cuts and whenever tracking is lost; otherwise the previous
/// frame's landmarks give the next crop, which keeps the crop steady and skips the detector.
public struct LandmarkTracker<Detector: FaceDetecting, Estimator: LandmarkEstimating> {
  public struct Settings: Sendable, Equatable {
    /// Mean FAN heatmap peak below which tracking counts as lost and the detector runs again.
    public var minimumScore: Float = 0.2
    /// Mean absolute luma difference (0…1) between consecutive frame thumbnails above which the
    /// frame starts a new shot.
    public var sceneCutThreshold: Double = 0.12
    public init(minimumScore: Float = 0.2, sceneCutThreshold: Double = 0.12) {
      self.minimumScore = minimumScore
      self.sceneCutThreshold = sceneCutThreshold
    }
  }

  public let detector: Detector
  public let estimator: Estimator
  public let settings: Settings
  private var previous: TrackedLandmarks?
  private var previousThumbnail: LumaThumbnail?
  /// Frames seen so far.
  public private(set) var frameCount = 0
  /// How often the detector ran (first frame, scene cuts, lost tracking).
  public private(set) var detections = 0
  /// Frames where a new shot started.
  public private(set) var sceneCuts: [Int] = []

  public init(detector: Detector, estimator: Estimator, settings: Settings = Settings()) {
    self.detector = detector
    self.estimator = estimator
    self.settings = settings
  }

  /// The landmarks of the next frame of the clip.
  public mutating func track(_ image: RGBImage) -> TrackedLandmarks {
    defer { frameCount += 1 }
    let thumbnail = LumaThumbnail(image)
    if let last = previousThumbnail, thumbnail.meanAbsoluteDifference(last) > settings.sceneCutThreshold {
      sceneCuts.append(frameCount)
      previous = nil
    }
    previousThumbnail = thumbnail

    // Landmarks collapsed to a few pixels cannot give a crop: detect again.
    if let last = previous, last.faceFound, let box = Self.box(around: last.points), box.width >= 4, box.height >= 4 {
      let frame = FANCropFrame(box: box)
      let (points, scores) = estimator.landmarks(in: image, frame: frame)
      if Self.mean(scores) >= settings.minimumScore {
        let tracked = TrackedLandmarks(points: points, scores: scores, source: .tracked)
        previous = tracked
        return tracked
      }
    }
    detections += 1
    // The speaker is the largest face in the shot. A box that cannot give a FAN crop is no
    // face: under 4 px, not finite, outside the frame, or many times its size (an untrained
    // detector returns such boxes, and a quad far off the frame is numerically degenerate).
    let limit = 4 * Double(max(image.width, image.height))
    let usable = detector.faces(in: image).filter { box in
      (box.x1 + box.x2 + box.y1 + box.y2).isFinite && box.width >= 4 && box.height >= 4
        && box.width <= limit && box.height <= limit
        && box.x2 > 0 && box.y2 > 0 && box.x1 < Double(image.width) && box.y1 < Double(image.height)
    }
    guard let face = usable.max(by: { $0.width * $0.height < $1.width * $1.height }) else {
      previous = nil
      return .missing
    }
    let (points, scores) = estimator.landmarks(in: image, frame: FANCropFrame(box: face))
    let detected = TrackedLandmarks(points: points, scores: scores, source: .detected)
    previous = detected
    return detected
  }

  /// The landmarks' bounding box, which stands in for the detector's box when tracking.
  static func box(around points: [SIMD2<Double>]) -> FaceBox? {
    let xs = points.map(\.x), ys = points.map(\.y)
    guard let x1 = xs.min(), let x2 = xs.max(), let y1 = ys.min(), let y2 = ys.max(), (x1 + x2 + y1 + y2).isFinite else { return nil }
    return FaceBox(x1: x1, y1: y1, x2: x2, y2: y2)
  }

  private static func mean(_ v: [Float]) -> Float { v.isEmpty ? 0 : v.reduce(0, +) / Float(v.count) }
}

/// A 32×18 area-averaged luma image: enough to see a change of shot, blind to lip motion.
struct LumaThumbnail {
  static let width = 32, height = 18
  let values: [Double]

  init(_ image: RGBImage) {
    var sums = [Double](repeating: 0, count: Self.width * Self.height)
    var counts = [Int](repeating: 0, count: Self.width * Self.height)
    image.pixels.withUnsafeBufferPointer { p in
      for y in 0..<image.height {
        let row = min(Self.height - 1, y * Self.height / image.height) * Self.width
        for x in 0..<image.width {
          let i = 3 * (y * image.width + x)
          let luma = 0.299 * Double(p[i]) + 0.587 * Double(p[i + 1]) + 0.114 * Double(p[i + 2])
          let cell = row + min(Self.width - 1, x * Self.width / image.width)
          sums[cell] += luma
          counts[cell] += 1
        }
      }
    }
    values = zip(sums, counts).map { $1 > 0 ? $0 / Double($1) / 255 : 0 }
  }

  func meanAbsoluteDifference(_ other: LumaThumbnail) -> Double {
    zip(values, other.values).reduce(0) { $0 + abs($1.0 - $1.1) } / Double(values.count)
  }
}
