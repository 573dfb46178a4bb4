import ArgumentParser
import Tensors

@main
struct Redub: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "redub",
    abstract: "Re-dub talking-head video: make a speaker's face follow a new speech track.",
    version: "0.1.0",
    subcommands: [])
}
