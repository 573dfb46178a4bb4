import Foundation

/// The demo's trained tiny models, made by `redub train demo-world` and shipped with the
/// package (Sources/DemoWorld/TrainedModels; scripts/train-demo-models.sh remakes them).
public enum TrainedModels {
  /// The folder of shipped weights.
  public static var folder: URL? { Bundle.module.url(forResource: "TrainedModels", withExtension: nil) }

  /// The shipped files (safetensors), by name.
  public static var files: [URL] {
    guard let folder, let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
    return names.filter { $0.hasSuffix(".safetensors") }.sorted().map { folder.appendingPathComponent($0) }
  }

  /// Copies the shipped weights into `models`, replacing files of the same name; returns their names.
  @discardableResult
  public static func install(into models: URL) throws -> [String] {
    try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
    var names: [String] = []
    for file in files {
      let target = models.appendingPathComponent(file.lastPathComponent)
      try? FileManager.default.removeItem(at: target)
      try FileManager.default.copyItem(at: file, to: target)
      names.append(file.lastPathComponent)
    }
    return names
  }
}
