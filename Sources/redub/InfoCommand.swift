import ArgumentParser
import Farm
import Media
import Tensors
import ZeroMQ

struct InfoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info",
    abstract: "Print the versions of redub and the libraries it runs on, and the thread count.")

  @OptionGroup var runtime: RuntimeOptions

  func run() throws {
    runtime.apply()
    print("redub \(RedubVersion.string)")
    print("threads      \(Runtime.threads)")
    print("backend      \(Runtime.backend.name): \(Runtime.backend.details)")
    let gpus = GPUInventory.discover()
    print("GPUs         " + (gpus.isEmpty ? "none (no NVIDIA management library, or no GPU)"
      : gpus.map { String(format: "%d %@ (%.0f GiB)", $0.index, $0.name, Double($0.memoryBytes) / Double(1 << 30)) }.joined(separator: ", ")))
    print("ZeroMQ       \(ZeroMQ.version)")
    print(FFmpegLibraries.summary)
    let encoders = ["libx264", "aac"].map { "\($0) \(FFmpegLibraries.hasEncoder(named: $0) ? "yes" : "no")" }
    print("encoders     " + encoders.joined(separator: ", "))
  }
}
