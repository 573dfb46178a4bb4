import Foundation
import Networks
import Tensors
import TestSupport
import XCTest

/// Batch norm's train mode: batch statistics, the running-statistics update, and its gradients
/// (input, weight, bias) against finite differences.
final class BatchNormTrainingTests: XCTestCase {
  func layer() -> BatchNorm2dLayer {
    let bn = BatchNorm2dLayer(3)
    bn.weight.value = Tensor([1.5, -0.7, 0.9], shape: [3])
    bn.bias.value = Tensor([0.2, -0.1, 0.4], shape: [3])
    return bn
  }

  func testTrainModeNormalizesWithBatchStatistics() {
    let bn = layer()
    let x = Tensor.randomNormal([4, 3, 5, 6], mean: 2, standardDeviation: 3, seed: 1)
    let y = BatchNorm2dLayer.$training.withValue(true) { bn(x) }
    let mean = y.mean(axes: [0, 2, 3]).scalars
    let variance = (y.squared().mean(axes: [0, 2, 3]) - y.mean(axes: [0, 2, 3]).squared()).scalars
    for c in 0..<3 {
      XCTAssertEqual(mean[c], bn.bias.value.scalars[c], accuracy: 1e-4)
      XCTAssertEqual(variance[c], bn.weight.value.scalars[c] * bn.weight.value.scalars[c], accuracy: 1e-3)
    }
    // Running statistics move by momentum 0.1 toward the batch's (unbiased variance).
    let n = Float(4 * 5 * 6)
    let xm = x.mean(axes: [0, 2, 3]).scalars
    let xv = (x.squared().mean(axes: [0, 2, 3]) - x.mean(axes: [0, 2, 3]).squared()).scalars
    for c in 0..<3 {
      XCTAssertEqual(bn.runningMean.value.scalars[c], 0.1 * xm[c], accuracy: 1e-4)
      XCTAssertEqual(bn.runningVariance.value.scalars[c], 0.9 + 0.1 * xv[c] * n / (n - 1), accuracy: 1e-3)
    }
    // Outside train mode the running statistics are used and left alone.
    let before = bn.runningMean.value.scalars
    let inference = bn(x)
    XCTAssertEqual(bn.runningMean.value.scalars, before)
    XCTAssertFalse(inference.scalars == y.scalars)
  }

  func testTrainModeInputGradientMatchesFiniteDifferences() {
    let bn = layer()
    for relu in [false, true] {
      let result = GradientCheck(epsilon: 1e-2, maxElementsPerInput: 60).run([Tensor.randomNormal([2, 3, 3, 4], seed: 2)]) { xs in
        BatchNorm2dLayer.$training.withValue(true) { bn(xs[0], relu: relu) }
      }
      XCTAssertLessThan(result.worst, 1e-2, "relu \(relu): \(result)")
    }
  }

  func testTrainModeParameterGradientsMatchFiniteDifferences() {
    let bn = layer()
    bn.weight.requiresGradient = true
    bn.bias.requiresGradient = true
    let x = Tensor.randomNormal([2, 3, 3, 4], seed: 3)
    let w = Tensor.randomNormal([2, 3, 3, 4], seed: 4)
    func loss() -> Tensor { BatchNorm2dLayer.$training.withValue(true) { (bn(x) * w).sum() } }
    loss().backward()
    let analytic = [bn.weight.gradient!.scalars, bn.bias.gradient!.scalars]
    for (k, parameter) in [bn.weight, bn.bias].enumerated() {
      for c in 0..<3 {
        let saved = parameter.value
        let eps: Float = 1e-2
        parameter.value = Tensor(saved.scalars.enumerated().map { $0.offset == c ? $0.element + eps : $0.element }, shape: [3])
        let plus = Double(loss().item())
        parameter.value = Tensor(saved.scalars.enumerated().map { $0.offset == c ? $0.element - eps : $0.element }, shape: [3])
        let minus = Double(loss().item())
        parameter.value = saved
        let numeric = (plus - minus) / (2 * Double(eps))
        XCTAssertEqual(Double(analytic[k][c]), numeric, accuracy: 1e-2 * max(1, abs(numeric)), "parameter \(k) channel \(c)")
      }
    }
  }
}
