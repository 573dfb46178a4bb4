import Foundation
import Networks
import Tensors

/// Trains a BiSeNet face parser: per-pixel cross-entropy of the main head and both auxiliary
/// heads (as face-parsing.PyTorch trains it, without its hard-example mining), Adam, batch norm
/// in train mode.
public struct BiSeNetTrainer {
  public let network: BiSeNet
  public var optimizer: Adam
  public private(set) var steps = 0

  public init(network: BiSeNet, learningRate: Float = 1e-3) {
    self.network = network
    optimizer = Adam(learningRate: learningRate)
    network.makeTrainable()
  }

  /// Mean cross-entropy of [N, C, H, W] logits against class labels (N·H·W of them, 0..<C).
  public static func crossEntropy(_ logits: Tensor, labels: [Int]) -> Tensor {
    let (n, c, plane) = (logits.shape[0], logits.shape[1], logits.shape[2] * logits.shape[3])
    precondition(labels.count == n * plane, "cross-entropy: \(labels.count) labels for logits \(logits.shape)")
    let oneHot = Tensor(shape: logits.shape) { out in
      for b in 0..<n {
        for i in 0..<plane {
          let label = labels[b * plane + i]
          precondition((0..<c).contains(label), "cross-entropy: label \(label) outside 0..<\(c)")
          out[(b * c + label) * plane + i] = 1
        }
      }
    }
    return (logits.logSoftmax(axis: 1) * oneHot).sum() * (-1 / Float(n * plane))
  }

  /// The training loss for images [N, 3, H, W] in [0, 1] (normalized here as the network expects).
  public static func loss(_ network: BiSeNet, images: Tensor, labels: [Int]) -> Tensor {
    let heads = network.allLogits(BiSeNet.normalize(rgb01: images))
    return crossEntropy(heads.logits, labels: labels) + crossEntropy(heads.logits16, labels: labels)
      + crossEntropy(heads.logits32, labels: labels)
  }

  /// One Adam step; `labels` holds N·H·W class numbers (row-major per image). Returns the loss
  /// before the step.
  @discardableResult
  public mutating func step(images: Tensor, labels: [Int]) -> Float {
    precondition(images.rank == 4 && images.shape[1] == 3 && images.shape[0] >= 2,
                 "BiSeNetTrainer: a batch of at least 2 RGB crops is needed for batch statistics, got \(images.shape)")
    let network = self.network
    let loss = BatchNorm2dLayer.$training.withValue(true) { Self.loss(network, images: images, labels: labels) }
    loss.backward()
    optimizer.step(network.trainableParameters)
    steps += 1
    return loss.item()
  }

  /// Intersection over union of predicted and true masks of `classes` over a batch.
  public static func maskIoU(logits: Tensor, labels: [Int], classes: Set<BiSeNet.FaceClass> = BiSeNet.defaultFaceClasses) -> Double {
    let predicted = BiSeNet.parsing(logits).flatMap { $0 }
    let selected = Set(classes.map(\.rawValue))
    var intersection = 0, union = 0
    for (p, t) in zip(predicted, labels) {
      let (a, b) = (selected.contains(p), selected.contains(t))
      if a && b { intersection += 1 }
      if a || b { union += 1 }
    }
    return union == 0 ? 1 : Double(intersection) / Double(union)
  }
}
