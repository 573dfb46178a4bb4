/// A network part whose parameters carry the reference checkpoint's key names
/// (`convs.3.conv.modulation.weight`), so weights load by name with strict checks.
public protocol Layer {
  /// Every parameter and buffer, under its full key name.
  var namedParameters: [(name: String, parameter: Parameter)] { get }
}

/// Why a checkpoint did not load into a network.
public enum WeightLoadingError: Error, CustomStringConvertible, Equatable {
  case missingKey(String)
  case unusedKeys([String])
  case shapeMismatch(key: String, expected: Shape, found: Shape)

  public var description: String {
    switch self {
    case let .missingKey(k):
      return "checkpoint has no tensor '\(k)' (is it the right model or configuration? convert it with scripts/convert_checkpoints.py)"
    case let .unusedKeys(keys):
      let shown = keys.prefix(5).joined(separator: ", ")
      return "checkpoint has \(keys.count) tensor(s) the network does not use: \(shown)\(keys.count > 5 ? ", ..." : "") (wrong model or configuration?)"
    case let .shapeMismatch(k, expected, found):
      return "tensor '\(k)' has shape \(found) in the checkpoint but the network expects \(expected) (configuration mismatch?)"
    }
  }
}

extension Layer {
  public var parameters: [Parameter] { namedParameters.map(\.parameter) }

  /// Only the parameters that train.
  public var trainableParameters: [Parameter] { parameters.filter(\.requiresGradient) }

  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

  /// This layer's parameters with `prefix.` before their names, for composing networks.
  public func prefixed(_ prefix: String) -> [(name: String, parameter: Parameter)] {
    namedParameters.map { (prefix.isEmpty ? $0.name : prefix + "." + $0.name, $0.parameter) }
  }

  /// Loads every parameter from `file` (names under `prefix`). Strict: a missing key, a
  /// shape mismatch, or a tensor under `prefix` that no parameter takes is an error, except
  /// names for which `ignoring` returns true.
  public func load(from file: SafeTensorsFile, prefix: String = "", ignoring: (String) -> Bool = { _ in false }) throws {
    let keyPrefix = prefix.isEmpty ? "" : prefix + "."
    var used = Set<String>()
    var loaded: [(Parameter, Tensor)] = []
    for (name, parameter) in namedParameters {
      let key = keyPrefix + name
      guard let entry = file.entries[key] else { throw WeightLoadingError.missingKey(key) }
      guard entry.shape == parameter.shape else {
        throw WeightLoadingError.shapeMismatch(key: key, expected: parameter.shape, found: entry.shape)
      }
      loaded.append((parameter, try file.tensor(key)))
      used.insert(key)
    }
    let unused = file.names.filter { $0.hasPrefix(keyPrefix) && !used.contains($0) && !ignoring($0) }
    guard unused.isEmpty else { throw WeightLoadingError.unusedKeys(unused) }
    // Assign only after every check passed, so a failed load leaves the network unchanged.
    for (parameter, value) in loaded { parameter.value = value }
  }

  /// Every parameter's value under its key name, for saving.
  public func stateDictionary() -> [String: Tensor] {
    Dictionary(namedParameters.map { ($0.name, $0.parameter.value) }, uniquingKeysWith: { a, _ in a })
  }

  public func zeroGradients() { parameters.forEach { $0.zeroGradient() } }
}
