import Foundation

/// Where a talking clip's face is, frame by frame, for measuring what an edit left alone.
extension TalkingClip {
  /// Frame `index`'s face region in the original: the pixels the parsing mask gives to the face
  /// (skin, brows, eyes, ears, nose, mouth, lips), grown by `margin` pixels in every direction
  /// (a square dilation). Row-major, width · height.
  public func faceRegion(_ index: Int, margin: Int) -> [Bool] {
    let c = configuration
    var renderer = ProceduralFaceRenderer(width: c.width, height: c.height)
    let mask = renderer.render(face(index, .original)).mask
    let face = mask.map { AlignedFaces.faceClasses.contains($0) }
    return Self.dilate(face, width: c.width, height: c.height, margin: margin)
  }

  /// Square dilation as a row pass then a column pass (separable max).
  static func dilate(_ mask: [Bool], width: Int, height: Int, margin: Int) -> [Bool] {
    guard margin > 0 else { return mask }
    var rows = [Bool](repeating: false, count: mask.count)
    for y in 0..<height {
      for x in 0..<width where mask[y * width + x] {
        for u in max(0, x - margin)...min(width - 1, x + margin) { rows[y * width + u] = true }
      }
    }
    var out = [Bool](repeating: false, count: mask.count)
    for y in 0..<height {
      for x in 0..<width where rows[y * width + x] {
        for v in max(0, y - margin)...min(height - 1, y + margin) { out[v * width + x] = true }
      }
    }
    return out
  }
}
