import ArgumentParser
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
    print("OpenBLAS     \(BLAS.configuration)")
    print("ZeroMQ       \(ZeroMQ.version)")
    print(FFmpegLibraries.summary)
    let encoders = ["libx264", "aac"].map { "\($0) \(FFmpegLibraries.hasEncoder(named: $0) ? "yes" : "no")" }
    print("encoders     " + encoders.joined(separator: ", "))
  }
}
