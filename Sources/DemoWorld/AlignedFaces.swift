import Foundation
import Media
import Tensors

/// Training data as the editing pipeline sees it: random faces rendered in whole frames, then
/// cut out with the pipeline's own FFHQ alignment (`FaceQuad(landmarks:)` → `FaceCrop`), so a
/// network trained on them meets the same crops in `redub edit`.
public struct AlignedFaces: Sendable {
  /// [N, 3, S, S] in 0…1.
  public var crops: Tensor
  /// [N, 1, S, S]: the share of each crop pixel covered by the face (skin, brows, eyes, ears,
  /// nose, mouth and lips in the parsing mask), warped as the image is.
  public var faceCoverage: Tensor
  /// Each crop's 68 landmarks in crop pixels.
  public var landmarks: [[SIMD2<Double>]]
  public var parameters: [FaceParameters]

  /// Renders `count` faces from `sampler` in `frameSize`² frames (in chunks, so a large set
  /// never holds many frames at once) and crops them at `cropSize`².
  public static func make(count: Int, cropSize: Int, frameSize: Int = 256, sampler: inout FaceSampler,
                          threads: Int = 1) -> AlignedFaces {
    render((0..<count).map { _ in sampler.next() }, cropSize: cropSize, frameSize: frameSize, threads: threads)
  }

  /// Faces of a fixed cast: `count` faces, each one of `cast` speakers (speaker k has the
  /// identity `FaceSampler(seed: k).identity()`, k = 1…cast — the first is the speaker of
  /// `ClipConfiguration(seed: 1)`, the demo's) with a pose and an expression from `sampler`.
  public static func make(count: Int, cast: Int, cropSize: Int, frameSize: Int = 256, sampler: inout FaceSampler,
                          threads: Int = 1) -> AlignedFaces {
    let identities = (1...max(cast, 1)).map { k in
      var people = FaceSampler(seed: UInt64(k))
      return people.identity()
    }
    let faces = (0..<count).map { _ in
      FaceParameters(identity: identities.randomElement(using: &sampler.generator)!, pose: sampler.pose(),
                     expression: sampler.expression())
    }
    return render(faces, cropSize: cropSize, frameSize: frameSize, threads: threads)
  }

  /// Renders `faces` in `frameSize`² frames, 64 at a time, and crops them at `cropSize`².
  public static func render(_ faces: [FaceParameters], cropSize: Int, frameSize: Int = 256, threads: Int = 1) -> AlignedFaces {
    let count = faces.count
    var crops: [Tensor] = [], coverage: [Tensor] = [], landmarks: [[SIMD2<Double>]] = [], parameters: [FaceParameters] = []
    let chunk = 64
    var done = 0
    while done < count {
      let batch = FaceBatch.render(Array(faces[done..<min(count, done + chunk)]), width: frameSize, height: frameSize,
                                   threads: threads)
      for i in 0..<batch.parameters.count {
        let points = (0..<68).map { k in
          SIMD2(Double(batch.landmarks[i, k, 0]), Double(batch.landmarks[i, k, 1]))
        }
        let crop = FaceCrop(quad: FaceQuad(landmarks: FaceLandmarks(points)), size: cropSize)
        crops.append(crop.crop(batch.images.slice(axis: 0, i..<(i + 1))))
        let face: [Float] = batch.masks.slice(axis: 0, i..<(i + 1)).scalars.map { Self.faceClasses.contains(UInt8($0)) ? 1 : 0 }
        coverage.append(crop.crop(Tensor(face, shape: [1, 1, frameSize, frameSize])))
        landmarks.append(points.map(crop.toCrop))
      }
      parameters += batch.parameters
      done += batch.parameters.count
    }
    return AlignedFaces(crops: Tensor.concat(crops, axis: 0), faceCoverage: Tensor.concat(coverage, axis: 0),
                        landmarks: landmarks, parameters: parameters)
  }

  static let faceClasses: Set<UInt8> = Set([FaceClass.skin, .leftBrow, .rightBrow, .leftEye, .rightEye, .leftEar, .rightEar,
                                            .nose, .mouth, .upperLip, .lowerLip].map(\.rawValue))

  /// [N, 1, S, S]: 1 within `radius` crop pixels of a brow, eye or mouth landmark (17–26,
  /// 36–67), falling to 0 over one more pixel — the small features the edit changes and the
  /// measurement reads, which a plain pixel loss, dominated by the large smooth areas, neglects.
  public func featureCoverage(radius: Double) -> Tensor {
    let s = crops.shape[2]
    let features = Array(17..<27) + Array(36..<68)
    return Tensor(shape: [landmarks.count, 1, s, s]) { out in
      for (n, points) in landmarks.enumerated() {
        for k in features {
          let p = points[k]
          let x0 = max(0, Int((p.x - radius - 1).rounded(.down))), x1 = min(s - 1, Int((p.x + radius + 1).rounded(.up)))
          let y0 = max(0, Int((p.y - radius - 1).rounded(.down))), y1 = min(s - 1, Int((p.y + radius + 1).rounded(.up)))
          guard x0 <= x1, y0 <= y1 else { continue }
          for y in y0...y1 {
            for x in x0...x1 {
              // Pixel centres at +0.5.
              let d = ((Double(x) + 0.5 - p.x) * (Double(x) + 0.5 - p.x) + (Double(y) + 0.5 - p.y) * (Double(y) + 0.5 - p.y)).squareRoot()
              let v = Float(max(0, min(1, radius + 1 - d)))
              let i = (n * s + y) * s + x
              out[i] = max(out[i], v)
            }
          }
        }
      }
    }
  }

  /// The parameters' `features`, [N, F].
  public var features: Tensor {
    Tensor(parameters.flatMap(\.features), shape: [parameters.count, FaceParameters.featureCount])
  }
}
