import Foundation
import Tensors

/// How a clip's frames are cut into overlapping windows for the farm's `optimize` tasks, and
/// how the windows' solutions are merged back into one latent per frame.
public struct WindowPlan: Sendable, Equatable {
  public struct Window: Sendable, Equatable {
    public var index: Int
    /// The window's frames.
    public var frames: Range<Int>
    /// The frame just before the window whose latent ties its first latent (nil at the clip's start).
    public var leftBoundary: Int?
    /// The frame just after the window whose latent ties its last latent (nil at the clip's end).
    public var rightBoundary: Int?
  }

  public let frameCount: Int
  public let windowLength: Int
  public let overlap: Int
  public let windows: [Window]

  /// Windows of `windowLength` frames, each starting `windowLength − overlap` after the last;
  /// the last window ends at the clip's last frame (it may overlap its neighbour by more).
  public init(frameCount: Int, windowLength: Int = 24, overlap: Int = 4) {
    precondition(frameCount > 0, "WindowPlan: a clip needs at least one frame")
    precondition(windowLength > 0 && overlap >= 0 && overlap < windowLength,
                 "WindowPlan: need 0 ≤ overlap (\(overlap)) < window length (\(windowLength))")
    let length = min(windowLength, frameCount), shared = windowLength >= frameCount ? 0 : overlap
    self.frameCount = frameCount
    self.windowLength = length
    self.overlap = shared
    var starts: [Int] = [0]
    while starts.last! + length < frameCount {
      starts.append(min(starts.last! + length - shared, frameCount - length))
    }
    windows = starts.enumerated().map { i, start in
      let end = start + length
      return Window(index: i, frames: start..<end, leftBoundary: start > 0 ? start - 1 : nil,
                    rightBoundary: end < frameCount ? end : nil)
    }
  }

  public enum Blend: String, Sendable, CaseIterable { case linear, cosine }

  /// One latent per frame from every window's solution ([windowLength, L, D] each): frames in one
  /// window take its latent; frames two windows share take a cross-fade whose weight moves from
  /// the earlier window to the later one across the shared frames.
  public func merge(_ solutions: [Tensor], blend: Blend = .linear) -> Tensor {
    precondition(solutions.count == windows.count, "merge: \(solutions.count) solutions for \(windows.count) windows")
    let inner = Array(solutions[0].shape.dims.dropFirst())
    let size = inner.reduce(1, *)
    var out = [Float](repeating: 0, count: frameCount * size)
    var weights = [Double](repeating: 0, count: frameCount)
    for (window, solution) in zip(windows, solutions) {
      precondition(solution.shape.dims == [window.frames.count] + inner, "merge: window \(window.index) solution \(solution.shape)")
      let values = solution.scalars
      for (offset, frame) in window.frames.enumerated() {
        let w = weight(frame, in: window, blend: blend)
        weights[frame] += w
        for j in 0..<size { out[frame * size + j] += Float(w) * values[offset * size + j] }
      }
    }
    for frame in 0..<frameCount where weights[frame] > 0 {
      let scale = Float(1 / weights[frame])
      for j in 0..<size { out[frame * size + j] *= scale }
    }
    return Tensor(out, shape: Shape([frameCount] + inner))
  }

  /// A window's weight at a frame: 1 except over the frames it shares with a neighbour, where it
  /// ramps down toward the neighbour (never quite 0, so every frame is covered).
  func weight(_ frame: Int, in window: Window, blend: Blend) -> Double {
    var w = 1.0
    if window.index > 0 {
      let shared = windows[window.index - 1].frames.clamped(to: window.frames)
      if shared.contains(frame) { w = min(w, ramp(Double(frame - shared.lowerBound + 1) / Double(shared.count + 1), blend)) }
    }
    if window.index + 1 < windows.count {
      let shared = windows[window.index + 1].frames.clamped(to: window.frames)
      if shared.contains(frame) { w = min(w, ramp(Double(shared.upperBound - frame) / Double(shared.count + 1), blend)) }
    }
    return w
  }

  private func ramp(_ x: Double, _ blend: Blend) -> Double {
    switch blend {
    case .linear: x
    case .cosine: 0.5 - 0.5 * cos(Double.pi * x)
    }
  }

  /// The seam metric: the mean latent jump (‖w_i − w_{i−1}‖) across window boundaries divided by
  /// the median jump between frames inside windows. Near 1: the seams are invisible in latent
  /// space; much larger: the windows disagree where they meet.
  public func seamMetric(_ latents: Tensor) -> Double { seams(latents).metric }

  /// The seam metric and its parts: each boundary frame's jump divided by the median jump
  /// inside windows (the metric is the mean of these). No boundaries: metric 1, no parts.
  public func seams(_ latents: Tensor) -> (metric: Double, byFrame: [Int: Double]) {
    precondition(latents.shape[0] == frameCount, "seamMetric: \(latents.shape[0]) latents for \(frameCount) frames")
    let size = latents.count / frameCount
    let v = latents.scalars
    func jump(_ i: Int) -> Double {
      var s = 0.0
      for j in 0..<size { let d = Double(v[i * size + j] - v[(i - 1) * size + j]); s += d * d }
      return s.squareRoot()
    }
    // A boundary is where one window's exclusive frames end and the next one's begin.
    var boundaries = Set<Int>()
    for window in windows.dropFirst() { boundaries.insert(window.frames.lowerBound); boundaries.insert(window.frames.lowerBound + overlap) }
    boundaries = boundaries.filter { $0 > 0 && $0 < frameCount }
    let inside = (1..<max(frameCount, 1)).filter { !boundaries.contains($0) }.map(jump).sorted()
    guard !boundaries.isEmpty, !inside.isEmpty else { return (1, [:]) }
    let median = max(inside[inside.count / 2], 1e-12)
    let byFrame = Dictionary(uniqueKeysWithValues: boundaries.map { ($0, jump($0) / median) })
    // Summed in frame order: a dictionary's order follows its storage address, and the float
    // sum (written into the merge's output) must not depend on it.
    return (byFrame.keys.sorted().reduce(0) { $0 + byFrame[$1]! } / Double(byFrame.count), byFrame)
  }
}
