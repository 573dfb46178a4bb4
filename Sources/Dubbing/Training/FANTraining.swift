import Foundation
import Networks
import Tensors

/// Trains a FAN on crops with known landmarks: the mean squared error between every hourglass
/// module's heatmaps and Gaussian target heatmaps drawn exactly as the pipeline draws them (so
/// L_fan during window optimization and `FANLandmarks.decode` read the heatmaps the way the
/// network learned them), Adam, batch norm in train mode.
public struct FANTrainer {
  public let network: FAN
  public var optimizer: Adam
  /// Steps taken so far.
  public private(set) var steps = 0

  /// Makes every weight and bias of `network` trainable (running statistics stay buffers).
  /// A network trained from scratch starts from `initializeForTraining(seed:)`.
  public init(network: FAN, learningRate: Float = 1e-3) {
    self.network = network
    optimizer = Adam(learningRate: learningRate)
    network.makeTrainable()
  }

  /// Targets [N, 68, S/4, S/4] for landmarks in pixels of the S² crop the network reads, where
  /// the crop is an aligned face crop resized to S: L_fan's targets (`LandmarkHeatmapLoss`).
  public static func alignedTargets(cropLandmarks: [[SIMD2<Double>]], inputSize: Int) -> Tensor {
    LandmarkHeatmapLoss.targetHeatmaps(cropLandmarks: cropLandmarks, cropSize: inputSize, heatmapSize: inputSize / 4)
  }

  /// Targets for landmarks in image pixels seen through face-alignment crop frames (the crops
  /// `FANLandmarkEstimator` reads): face-alignment's targets (`FANTargetHeatmaps`), centred
  /// exactly like L_fan's so the network learns sub-pixel positions.
  public static func frameTargets(landmarks: [[SIMD2<Double>]], frames: [FANCropFrame], inputSize: Int) -> Tensor {
    FANTargetHeatmaps.render(landmarks: landmarks, frames: frames, size: inputSize / 4, placement: .exact)
  }

  /// The training loss: the sum over hourglass modules of the mean squared heatmap error
  /// (face-alignment supervises every module), each pixel weighted by 1 + `foregroundWeight` ·
  /// target. The weight does not move the minimum (the targets themselves), only how fast it is
  /// reached: with plain MSE (weight 0) a network trained from scratch first sits for hundreds
  /// of steps at all-zero heatmaps, since ~95 % of the target pixels are 0.
  public static func loss(_ network: FAN, images: Tensor, targets: Tensor, foregroundWeight: Float = 0) -> Tensor {
    let outputs = network.allHeatmaps(images)
    precondition(outputs[0].shape == targets.shape, "FANTrainer: heatmaps \(outputs[0].shape), targets \(targets.shape)")
    let weights = foregroundWeight == 0 ? nil : (targets * foregroundWeight + 1).detached()
    return outputs.map { h in
      let squared = (h - targets).squared()
      return (weights.map { squared * $0 } ?? squared).mean()
    }.reduce(Tensor(scalar: 0), +)
  }

  /// See `loss`: 0 is face-alignment's plain MSE.
  public var foregroundWeight: Float = 0

  /// One Adam step on images [N, 3, S, S] in [0, 1] and their targets [N, 68, S/4, S/4]; returns
  /// the loss before the step.
  @discardableResult
  public mutating func step(images: Tensor, targets: Tensor) -> Float {
    precondition(images.rank == 4 && images.shape[1] == 3 && images.shape[0] >= 2,
                 "FANTrainer: a batch of at least 2 RGB crops is needed for batch statistics, got \(images.shape)")
    let network = self.network
    let weight = foregroundWeight
    let loss = BatchNorm2dLayer.$training.withValue(true) {
      Self.loss(network, images: images, targets: targets, foregroundWeight: weight)
    }
    loss.backward()
    optimizer.step(network.trainableParameters)
    steps += 1
    return loss.item()
  }
}
