import ArgumentParser
import Dubbing
import Foundation

struct ModelsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "models",
    abstract: "Inspect a models folder, or make the small demo set.",
    subcommands: [ModelsCheck.self, ModelsDemo.self])
}

/// `redub models check DIR`.
struct ModelsCheck: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "check",
    abstract: "Which networks a models folder holds, what they are, and whether a job can run.",
    discussion: """
      Expects \(ModelRole.allCases.map(\.fileName).joined(separator: ", ")). Each present file is \
      loaded (strictly) to show its configuration. Exits 1 when a required network is missing or \
      a file does not load.
      """)

  @Argument(help: ArgumentHelp("The models folder.", valueName: "dir"))
  var folder: String

  @Flag(help: "Print one JSON object per network.")
  var json = false

  func run() throws {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
      throw ValidationError("\(folder) is not a folder")
    }
    let entries = ModelFolder(URL(fileURLWithPath: folder)).check()
    for entry in entries {
      if json {
        var object: [String: Any] = ["network": entry.role.rawValue, "file": entry.role.fileName, "present": entry.present,
                                     "summary": entry.summary, "bytes": entry.bytes]
        if let e = entry.loadError { object["error"] = e }
        print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
      } else {
        let size = entry.present ? String(format: " (%.1f MB)", Double(entry.bytes) / 1e6) : ""
        print("\(entry.role.fileName.padding(toLength: 28, withPad: " ", startingAt: 0)) \(entry.summary)\(size)")
        if let e = entry.loadError { print("    \(e)") }
      }
    }
    let blocking = entries.filter { ($0.present && $0.loadError != nil) || (!$0.present && $0.role.whenMissing == nil) }
    if !blocking.isEmpty {
      if !json { print("not usable: \(blocking.map(\.role.fileName).joined(separator: ", "))") }
      throw ExitCode(1)
    }
  }
}

/// `redub models demo DIR`.
struct ModelsDemo: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Write the small deterministic demo model set (seeded random weights, nothing downloaded).",
    discussion: """
      A 64² generator, LPIPS-VGG, FAN with one hourglass, S3FD, BiSeNet and an untrained \
      audio-to-landmark model, all from fixed seeds: a smoke set that lets every stage run. Its \
      edits mean nothing. Without an encoder, edits invert by optimization; --with-encoder adds a \
      reduced-width e4e so they take their pivots from it instead.
      """)

  @Argument(help: ArgumentHelp("Where to write the set.", valueName: "dir"))
  var folder: String

  @Option(help: "Seed of the weights.")
  var seed: UInt64 = 1

  @Flag(help: "Also write a reduced-width e4e encoder (e4e.safetensors).")
  var withEncoder = false

  func run() throws {
    try DemoModels.write(to: URL(fileURLWithPath: folder), seed: seed)
    if withEncoder { try DemoModels.writeEncoder(to: URL(fileURLWithPath: folder), seed: seed) }
    print("wrote the demo model set (seeded random weights; a smoke set, not a real model) to \(folder)")
  }
}
