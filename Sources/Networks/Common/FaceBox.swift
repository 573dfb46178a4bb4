/// A face box in image pixels with the detector's confidence.
public struct FaceBox: Sendable, Equatable, CustomStringConvertible {
  public var x1: Double, y1: Double, x2: Double, y2: Double
  public var score: Double

  public init(x1: Double, y1: Double, x2: Double, y2: Double, score: Double = 1) {
    (self.x1, self.y1, self.x2, self.y2, self.score) = (x1, y1, x2, y2, score)
  }

  public var width: Double { x2 - x1 }
  public var height: Double { y2 - y1 }

  public var description: String {
    "FaceBox(\(x1), \(y1), \(x2), \(y2), score \(score))"
  }
}
