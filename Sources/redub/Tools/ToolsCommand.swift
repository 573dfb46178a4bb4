import ArgumentParser
import Foundation

struct ToolsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "tools",
    abstract: "Run single parts of redub on files: networks, media probes, features.",
    subcommands: [NetworkToolCommand.self, LandmarksTool.self, AudioToLandmarksTool.self, ProbeTool.self, MFCCTool.self, RemuxTool.self,
                  DemoWorldTool.self])
}

/// `redub tools network KIND --weights W --inputs IN --output OUT`: runs one network on the
/// tensors of a safetensors file and writes its outputs (and gradients) to another.
struct NetworkToolCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "network",
    abstract: "Run one network on tensors from a safetensors file and write its outputs.",
    subcommands: [StyleGAN2Tool.self, LPIPSTool.self, FANTool.self, S3FDTool.self, BiSeNetTool.self, E4ETool.self])
}

/// The files every `tools network` kind reads and writes.
struct NetworkToolFiles: ParsableArguments {
  @Option(help: ArgumentHelp("The network's weights (safetensors, from scripts/convert_checkpoints.py).", valueName: "file"))
  var weights: String

  @Option(help: ArgumentHelp("Input tensors (safetensors).", valueName: "file"))
  var inputs: String

  @Option(help: ArgumentHelp("Where to write the output tensors (safetensors).", valueName: "file"))
  var output: String
}

/// Loads a network's weights, naming the file and the network when that fails.
func loadWeights<Network>(_ network: String, from path: String, _ load: (URL) throws -> Network) throws -> Network {
  do {
    return try load(URL(fileURLWithPath: path))
  } catch {
    throw ValidationError("cannot load \(network) weights from \(path): \(error)")
  }
}
