import Foundation
import Tensors
import TestSupport
import XCTest

/// The PyTorch reference values of scripts/make_op_fixtures.py for the image ops.
enum OpsReference {
  static let file: SafeTensorsFile = {
    do { return try SafeTensorsFile(contentsOf: Fixtures.url("ops_reference.safetensors")) } catch {
      fatalError("test fixture unreadable: \(error)")
    }
  }()

  static func tensor(_ name: String) -> Tensor {
    do { return try file.tensor(name) } catch { fatalError("fixture tensor \(name): \(error)") }
  }

  /// Runs `op` on the case's stored inputs and compares its output (1e-4) and the gradients
  /// of every input for the stored upstream gradient (1e-3) with PyTorch's.
  static func check(
    _ name: String, inputs: [String], file: StaticString = #filePath, line: UInt = #line, _ op: ([Tensor]) -> Tensor
  ) {
    let leaves = inputs.map { tensor("\(name).\($0)").requiringGradient() }
    let out = op(leaves)
    let expected = tensor("\(name).out")
    XCTAssertEqual(out.shape, expected.shape, "\(name) output shape", file: file, line: line)
    guard out.shape == expected.shape else { return }
    XCTAssertLessThan(relativeError(out, expected), 1e-4, "\(name) output", file: file, line: line)
    let grads = gradients(of: out, wrt: leaves, seed: tensor("\(name).gout"))
    for (input, grad) in zip(inputs, grads) {
      XCTAssertLessThan(relativeError(grad, tensor("\(name).g\(input)")), 1e-3, "\(name) gradient of \(input)",
                        file: file, line: line)
    }
  }
}

/// Σ a·b in double, for adjoint identities.
func dot(_ a: Tensor, _ b: Tensor) -> Double {
  precondition(a.shape == b.shape, "dot of \(a.shape) and \(b.shape)")
  let x = a.scalars, y = b.scalars
  var s = 0.0
  for i in 0..<x.count { s += Double(x[i]) * Double(y[i]) }
  return s
}
