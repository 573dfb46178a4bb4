import ArgumentParser
import DemoWorld
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
    abstract: "Write the demo model set (tiny networks trained on the synthetic world) and the demo clip.",
    discussion: """
      The 64² generator, FAN, BiSeNet and audio-to-landmark model trained by `redub train \
      demo-world` (shipped with redub), seeded LPIPS-VGG and S3FD (they cannot be trained here: \
      LPIPS then measures random features, and the demo gives landmarks instead of detecting \
      faces), and in DIR/demo-clip the demo clip, its dub, the ground truth and their landmarks. \
      --untrained writes the seeded random smoke set instead (every network untrained: the \
      pipeline runs, its edits mean nothing). Without an encoder, edits invert by optimization; \
      --with-encoder adds a reduced-width e4e with seeded random weights.
      """)

  @Argument(help: ArgumentHelp("Where to write the set.", valueName: "dir"))
  var folder: String

  @Option(help: "Seed of the seeded weights.")
  var seed: UInt64 = 1

  @Flag(help: "Write the seeded random smoke set, without the trained weights or the clip.")
  var untrained = false

  @Flag(help: "Also write a reduced-width e4e encoder (e4e.safetensors, seeded random weights).")
  var withEncoder = false

  func run() throws {
    let url = URL(fileURLWithPath: folder)
    try DemoModels.write(to: url, seed: seed)
    if untrained {
      if withEncoder { try DemoModels.writeEncoder(to: url, seed: seed) }
      print("wrote the seeded random demo model set (a smoke set, not a real model) to \(folder)")
      return
    }
    let installed = try TrainedModels.install(into: url)
    guard !installed.isEmpty else {
      throw ValidationError("this redub was built without the demo's trained models (Sources/DemoWorld/TrainedModels); remake them with scripts/train-demo-models.sh, or use --untrained")
    }
    // After the trained generator: the encoder is sized for it.
    if withEncoder { try DemoModels.writeEncoder(to: url, seed: seed) }
    let clip = url.appendingPathComponent("demo-clip")
    try DemoCommand.clip(frames: nil).write(to: clip)
    print("wrote the demo model set to \(folder) (trained: \(installed.joined(separator: ", ")); seeded: the rest)")
    print("and the demo clip to \(clip.path): clip.mp4, dub.wav, truth.mp4, clip_landmarks.safetensors, truth_landmarks.safetensors")
  }
}
