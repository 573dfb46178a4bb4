import Foundation
import Networks
import Tensors

/// The networks the editing losses look through, all frozen.
public struct EditingCritics {
  public let lpips: LPIPS
  public let fan: FAN
  /// FAN's input side: 256 for the published network (64² heatmaps); smaller sizes (a multiple
  /// of 64) serve tests and tiny demo models. By default the network's own (`FAN.inputSize`,
  /// which a reduced checkpoint records in its metadata).
  public let fanInputSize: Int

  public init(lpips: LPIPS, fan: FAN, fanInputSize: Int? = nil) {
    let fanInputSize = fanInputSize ?? fan.inputSize
    precondition(fanInputSize >= 64 && fanInputSize % 64 == 0, "FAN input size must be a multiple of 64, got \(fanInputSize)")
    self.lpips = lpips
    self.fan = fan
    self.fanInputSize = fanInputSize
    (lpips.parameters + fan.parameters).forEach { $0.requiresGradient = false }
  }

  /// Mean LPIPS over the batch between two [N, 3, R, R] images in [−1, 1].
  public func perceptual(_ a: Tensor, _ b: Tensor) -> Tensor { lpips.distance(a, b).mean() }

  /// FAN heatmaps [N, 68, S/4, S/4] of generator-space images [N, 3, R, R] in [−1, 1]: FAN
  /// reads the whole aligned crop as its S² input (S = `fanInputSize`) in [0, 1].
  public func heatmaps(_ images: Tensor) -> Tensor {
    var x = (images + 1) * 0.5
    if x.shape[2] != fanInputSize || x.shape[3] != fanInputSize {
      x = x.resizeBilinear(to: (fanInputSize, fanInputSize), alignCorners: false)
    }
    return fan.heatmaps(x)
  }

  /// Target heatmaps [N, 68, S/4, S/4] for landmarks in pixels of an R-pixel aligned crop.
  public func targetHeatmaps(cropLandmarks: [[SIMD2<Double>]], cropSize: Int) -> Tensor {
    LandmarkHeatmapLoss.targetHeatmaps(cropLandmarks: cropLandmarks, cropSize: cropSize, heatmapSize: fanInputSize / 4)
  }
}

/// L_fan = mean over frames of Σ_k a_k·‖H_k(G(w)) − H_k(target)‖₂ over the 68 FAN heatmaps,
/// with the landmark weights a_k up on the lips and eyes. A sum, as the method defines it, not a
/// weighted mean: λ_fan (5e-3) is set against LPIPS for the sum, and dividing by Σ a_k (120 with
/// the defaults) would make the landmark term 120 times weaker than the method intends.
public struct LandmarkHeatmapLoss: Sendable {
  /// a_k for each of the 68 landmarks.
  public var weights: [Float]

  /// Defaults: mouth (48–67) 3, eyes (36–47) 2, the rest 1.
  public static let defaultWeights: [Float] = (0..<68).map { k in (48..<68).contains(k) ? 3 : (36..<48).contains(k) ? 2 : 1 }

  public init(weights: [Float] = LandmarkHeatmapLoss.defaultWeights) {
    precondition(weights.count == 68, "LandmarkHeatmapLoss needs 68 weights, got \(weights.count)")
    self.weights = weights
  }

  /// Target heatmaps [N, 68, size, size] from landmarks in pixels of an R-pixel aligned crop, as
  /// face-alignment draws them for a 256² input but centred exactly (`.exact` placement): its
  /// truncation to whole heatmap pixels would hide target movements smaller than a pixel.
  public static func targetHeatmaps(cropLandmarks: [[SIMD2<Double>]], cropSize: Int, heatmapSize: Int = FAN.heatmapSize) -> Tensor {
    let scale = Double(FAN.inputSize) / Double(cropSize)
    return FANTargetHeatmaps.render(cropLandmarks: cropLandmarks.map { $0.map { ($0 + 0.5) * scale - 0.5 } }, size: heatmapSize,
                                    placement: .exact)
  }

  public func callAsFunction(_ heatmaps: Tensor, target: Tensor) -> Tensor {
    precondition(heatmaps.shape == target.shape && heatmaps.rank == 4 && heatmaps.shape[1] == 68,
                 "L_fan: heatmaps \(heatmaps.shape), target \(target.shape)")
    let n = heatmaps.shape[0]
    let norms = ((heatmaps - target).squared().sum(axes: [2, 3]) + 1e-12).sqrt()  // [N, 68]
    let a = Tensor(weights, shape: [1, 68])
    return (norms * a).sum() * (1 / Float(n))
  }
}

/// Parameters frozen for the duration of `body`, restored after.
public func withFrozen<T>(_ parameters: [Parameter], _ body: () throws -> T) rethrows -> T {
  let saved = parameters.map(\.requiresGradient)
  parameters.forEach { $0.requiresGradient = false }
  defer { for (p, s) in zip(parameters, saved) { p.requiresGradient = s } }
  return try body()
}
