import Media
import Networks
import Tensors

/// S3FD on a frame scaled down so its longer side is at most `maximumSide` pixels (the detector
/// needs far fewer pixels than a 1080p frame has), with the boxes scaled back to the frame.
public struct S3FDFaceDetector: FaceDetecting {
  public let network: S3FD
  public var maximumSide: Int
  public var postprocessing: S3FDPostprocessing

  public init(network: S3FD, maximumSide: Int = 640, postprocessing: S3FDPostprocessing = S3FDPostprocessing()) {
    precondition(maximumSide >= 32, "S3FDFaceDetector: maximumSide must be at least 32, got \(maximumSide)")
    self.network = network
    self.maximumSide = maximumSide
    self.postprocessing = postprocessing
  }

  public func faces(in image: RGBImage) -> [FaceBox] {
    var pixels = image.tensor() * 255
    let factor = min(1, Double(maximumSide) / Double(max(image.width, image.height)))
    if factor < 1 {
      let size = (height: max(1, Int((Double(image.height) * factor).rounded())),
                  width: max(1, Int((Double(image.width) * factor).rounded())))
      pixels = pixels.resizeBilinear(to: size, alignCorners: false)
    }
    let sx = Double(image.width) / Double(pixels.shape[3]), sy = Double(image.height) / Double(pixels.shape[2])
    return network.detect(rgb: pixels, postprocessing: postprocessing)[0].map {
      FaceBox(x1: $0.x1 * sx, y1: $0.y1 * sy, x2: $0.x2 * sx, y2: $0.y2 * sy, score: $0.score)
    }
  }
}

/// FAN on a crop of the frame through a face-alignment crop frame, at the network's input size
/// (256² for the published network); landmarks come back in frame pixels with their heatmap
/// peaks as scores. Sub-pixel decoding by default: face-alignment's quarter-pixel step puts
/// points on a grid of a quarter heatmap pixel, coarser than the mouth movements an edit is
/// measured by once the heatmaps are small (`.quarterPixel` reproduces the package's points).
public struct FANLandmarkEstimator: LandmarkEstimating {
  public let network: FAN
  public var refinement: FANLandmarks.Refinement

  public init(network: FAN, refinement: FANLandmarks.Refinement = .subpixel) {
    self.network = network
    self.refinement = refinement
  }

  public func landmarks(in image: RGBImage, frame: FANCropFrame) -> (points: [SIMD2<Double>], scores: [Float]) {
    let crop = Self.crop(frame: frame, size: network.inputSize)
    let heatmaps = network.heatmaps(crop.crop(image))
    let face = FANLandmarks.decode(heatmaps, refinement: refinement)[0]
    return (face.imagePoints(frame: frame, heatmapSize: heatmaps.shape[3]), face.scores)
  }

  /// The crop whose pixel p shows image point `frame.imagePoint(p)`: FaceCrop puts the square's
  /// outer corners (−½ and N − ½) on the quad, so the quad is the frame shifted by half a crop pixel.
  public static func crop(frame: FANCropFrame, size: Int) -> FaceCrop {
    let half = frame.side / 2
    let center = frame.center - frame.side / (2 * Double(size))
    return FaceCrop(quad: FaceQuad(center: center, x: SIMD2(half, 0), y: SIMD2(0, half)), size: size)
  }
}
