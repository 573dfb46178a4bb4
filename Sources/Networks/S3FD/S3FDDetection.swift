import Foundation
import Tensors

/// The post-processing of face-alignment 1.5.0's SFD detector (`detect.py`, `bbox.py`,
/// `sfd_detector.py`), on the outputs of `S3FD.heads`.
public struct S3FDPostprocessing: Sendable {
  /// A location is a candidate when its face probability exceeds this (`> 0.05`).
  public var candidateThreshold: Double = 0.05
  /// Non-maximum suppression drops boxes overlapping a kept one by more than this (IoU, `0.3`).
  public var nmsThreshold: Double = 0.3
  /// Boxes kept after NMS must score above this (`filter_threshold`, `0.5`).
  public var scoreThreshold: Double = 0.5

  public init(candidateThreshold: Double = 0.05, nmsThreshold: Double = 0.3, scoreThreshold: Double = 0.5) {
    self.candidateThreshold = candidateThreshold
    self.nmsThreshold = nmsThreshold
    self.scoreThreshold = scoreThreshold
  }

  /// Prior-box variances of the SSD encoding.
  static let variances = (center: 0.1, size: 0.2)

  /// Candidate boxes of every image (before NMS), in the package's order: head by head, then
  /// row-major over the head's grid. Head k has stride 2^(k+2) and square priors 4·stride wide
  /// centered on its cells.
  public func candidates(_ heads: [Tensor]) -> [[FaceBox]] {
    precondition(heads.count == 12, "S3FD post-processing needs the 12 head outputs, got \(heads.count)")
    let batch = heads[0].shape[0]
    var boxes = [[FaceBox]](repeating: [], count: batch)
    for k in 0..<6 {
      let probabilities = heads[2 * k].softmax(axis: 1), regression = heads[2 * k + 1]
      let (h, w) = (probabilities.shape[2], probabilities.shape[3])
      precondition(regression.shape == [batch, 4, h, w], "S3FD head \(k): regression \(regression.shape)")
      let stride = Double(1 << (k + 2))
      let cls = probabilities.scalars, reg = regression.scalars
      for b in 0..<batch {
        for y in 0..<h {
          for x in 0..<w {
            // numpy compares and scales the float32 outputs in float32, then widens against the
            // float64 priors; the same here.
            let score = cls[((b * 2 + 1) * h + y) * w + x]
            guard score > Float(candidateThreshold) else { continue }
            func loc(_ c: Int) -> Float { reg[((b * 4 + c) * h + y) * w + x] }
            let (cx, cy, side) = (stride / 2 + Double(x) * stride, stride / 2 + Double(y) * stride, stride * 4)
            let centerX = cx + Double(loc(0) * Float(Self.variances.center)) * side
            let centerY = cy + Double(loc(1) * Float(Self.variances.center)) * side
            let width = side * Double(Foundation.exp(loc(2) * Float(Self.variances.size)))
            let height = side * Double(Foundation.exp(loc(3) * Float(Self.variances.size)))
            let x1 = centerX - width / 2, y1 = centerY - height / 2
            boxes[b].append(FaceBox(x1: x1, y1: y1, x2: x1 + width, y2: y1 + height, score: Double(score)))
          }
        }
      }
    }
    return boxes
  }

  /// The package's `nms`: highest score first, dropping boxes whose overlap with a kept box
  /// (areas with the +1 pixel convention) exceeds `threshold`. Returns indices into `boxes`.
  public static func nonMaximumSuppression(_ boxes: [FaceBox], threshold: Double) -> [Int] {
    // numpy's `argsort()[::-1]`: ascending (stable for the few boxes involved), reversed.
    var order = boxes.indices.sorted { boxes[$0].score < boxes[$1].score || (boxes[$0].score == boxes[$1].score && $0 < $1) }
    order.reverse()
    let areas = boxes.map { ($0.x2 - $0.x1 + 1) * ($0.y2 - $0.y1 + 1) }
    var keep: [Int] = []
    while let i = order.first {
      keep.append(i)
      order = order.dropFirst().filter { j in
        let w = max(0, min(boxes[i].x2, boxes[j].x2) - max(boxes[i].x1, boxes[j].x1) + 1)
        let h = max(0, min(boxes[i].y2, boxes[j].y2) - max(boxes[i].y1, boxes[j].y1) + 1)
        return w * h / (areas[i] + areas[j] - w * h) <= threshold
      }
    }
    return keep
  }

  /// Faces of every image: candidates, NMS, then the score filter, highest score first.
  /// An image without a face gets an empty list.
  public func faces(_ heads: [Tensor]) -> [[FaceBox]] {
    candidates(heads).map { boxes in
      Self.nonMaximumSuppression(boxes, threshold: nmsThreshold).map { boxes[$0] }.filter { $0.score > scoreThreshold }
    }
  }
}

extension S3FD {
  /// Faces in each of a batch of RGB images (pixels 0…255, [N, 3, H, W]), as the package's
  /// `detect_from_batch` finds them.
  public func detect(rgb: Tensor, postprocessing: S3FDPostprocessing = S3FDPostprocessing()) -> [[FaceBox]] {
    postprocessing.faces(heads(Self.preprocess(rgb: rgb.detached())))
  }
}
