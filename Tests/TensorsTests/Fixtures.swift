import Foundation
import Tensors

/// The reference tensors of scripts/make_tensor_fixtures.py, shipped with the tests.
enum Fixtures {
  static func url(_ name: String) -> URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name)
  }

  static let reference: SafeTensorsFile = {
    do { return try SafeTensorsFile(contentsOf: url("tensor_reference.safetensors")) } catch {
      fatalError("test fixture unreadable: \(error)")
    }
  }()
}
