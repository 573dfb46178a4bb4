import Foundation
import Tensors
import TestSupport
import XCTest

final class LayerTests: XCTestCase {
  struct TwoLayer: Layer {
    let first = Parameter(Tensor(zeros: [3, 2]))
    let second = Parameter(Tensor(zeros: [4]))
    let runningMean = Parameter(Tensor(zeros: [4]), requiresGradient: false)
    var namedParameters: [(name: String, parameter: Parameter)] {
      [("fc.weight", first), ("fc.bias", second), ("bn.running_mean", runningMean)]
    }
  }

  func file(_ tensors: [String: Tensor]) throws -> SafeTensorsFile {
    try SafeTensorsFile(data: SafeTensors.serialize(tensors))
  }

  func testStrictLoading() throws {
    let net = TwoLayer()
    let w = Tensor.randomNormal([3, 2], seed: 1), b = Tensor.randomNormal([4], seed: 2), m = Tensor.randomNormal([4], seed: 3)
    try net.load(from: file(["model.fc.weight": w, "model.fc.bias": b, "model.bn.running_mean": m,
                             "model.bn.num_batches_tracked": Tensor(scalar: 0), "other.x": Tensor(scalar: 1)]),
                 prefix: "model", ignoring: { $0.hasSuffix("num_batches_tracked") })
    XCTAssertEqual(net.first.value.scalars, w.scalars)
    XCTAssertEqual(net.runningMean.value.scalars, m.scalars)
    XCTAssertEqual(net.trainableParameters.count, 2)
    XCTAssertEqual(net.parameterCount, 14)
  }

  func testLoadingErrorsNameTheKeyAndChangeNothing() throws {
    let net = TwoLayer()
    let w = Tensor.randomNormal([3, 2], seed: 1), b = Tensor.randomNormal([4], seed: 2)
    XCTAssertThrowsError(try net.load(from: file(["fc.weight": w, "fc.bias": b]))) {
      XCTAssertEqual($0 as? WeightLoadingError, .missingKey("bn.running_mean"))
    }
    XCTAssertThrowsError(try net.load(from: file(["fc.weight": w, "fc.bias": Tensor(zeros: [5]), "bn.running_mean": b]))) {
      XCTAssertEqual($0 as? WeightLoadingError, .shapeMismatch(key: "fc.bias", expected: [4], found: [5]))
    }
    XCTAssertThrowsError(try net.load(from: file(["fc.weight": w, "fc.bias": b, "bn.running_mean": b, "fc.extra": b]))) {
      XCTAssertEqual($0 as? WeightLoadingError, .unusedKeys(["fc.extra"]))
      XCTAssertTrue("\($0)".contains("fc.extra"))
    }
    XCTAssertEqual(net.first.value.scalars, [0, 0, 0, 0, 0, 0], "a failed load must not half-load the network")
  }

  func testLSTMMatchesPyTorch() throws {
    let ref = Fixtures.reference
    let lstm = LSTM(inputSize: 5, hiddenSize: 4)
    try lstm.load(from: ref, prefix: "lstm.param")
    let x = try ref.tensor("lstm.input")
    let (output, h, c) = lstm(x, state: (try ref.tensor("lstm.h0"), try ref.tensor("lstm.c0")))
    XCTAssertLessThan(relativeError(output, try ref.tensor("lstm.output")), 1e-5)
    XCTAssertLessThan(relativeError(h, try ref.tensor("lstm.hn")), 1e-5)
    XCTAssertLessThan(relativeError(c, try ref.tensor("lstm.cn")), 1e-5)
    // Gradients to the input and to every weight.
    let leaf = x.requiringGradient()
    let (out, _, _) = lstm(leaf, state: (try ref.tensor("lstm.h0"), try ref.tensor("lstm.c0")))
    let loss = (out * (try ref.tensor("lstm.loss_weights"))).sum()
    XCTAssertLessThan(relativeError(gradients(of: loss, wrt: [leaf])[0], try ref.tensor("lstm.grad_input")), 1e-4)
    loss.backward()
    for (name, p) in lstm.namedParameters {
      XCTAssertLessThan(relativeError(try XCTUnwrap(p.gradient), try ref.tensor("lstm.grad." + name)), 1e-4, name)
    }
  }

  func testAdamMatchesPyTorch() throws {
    let ref = Fixtures.reference
    let p = Parameter(try ref.tensor("adam.initial"))
    let grads = try ref.tensor("adam.gradients")
    var adam = Adam(learningRate: 0.1, weightDecay: 0.01)
    for step in 0..<5 {
      p.gradient = grads.select(axis: 0, step)
      adam.step([p])
      XCTAssertNil(p.gradient)
    }
    XCTAssertLessThan(relativeError(p.value, try ref.tensor("adam.final")), 1e-5)
  }

  func testOptimizersMinimizeAQuadratic() {
    // Both optimizers drive ‖x − t‖² toward 0 through the autodiff graph.
    let target = Tensor([1, -2, 3], shape: [3])
    for useAdam in [true, false] {
      let x = Parameter(Tensor(zeros: [3]))
      var adam = Adam(learningRate: 0.1)
      var sgd = SGD(learningRate: 0.1, momentum: 0.5)
      for _ in 0..<200 {
        (x.tensor - target).squared().sum().backward()
        if useAdam { adam.step([x]) } else { sgd.step([x]) }
      }
      XCTAssertLessThan(relativeError(x.value, target), 1e-2, useAdam ? "Adam" : "SGD")
    }
  }
}
