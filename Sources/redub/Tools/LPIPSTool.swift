import ArgumentParser
import Foundation
import Networks
import Tensors

struct LPIPSTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "lpips",
    abstract: "LPIPS distance of image pairs and its gradient to the first image.",
    discussion: """
      Reads `in0` and `in1` [N, 3, H, W] in [-1, 1] from --inputs. Writes `distance` [N] and \
      `grad_in0` = ∂ sum(distance) / ∂ in0. The trunk is read from the weights unless --trunk is given.
      """)

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var files: NetworkToolFiles

  @Option(help: "The trunk the weights are for: vgg or alex (default: read from the weights).")
  var trunk: LPIPSTrunk?

  func run() throws {
    runtime.apply()
    let weights = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: files.weights))
    if let trunk, let found = LPIPSTrunk(checkpoint: weights), found != trunk {
      throw ValidationError("--trunk \(trunk) but \(files.weights) holds an LPIPS-\(found) checkpoint")
    }
    let lpips = try LPIPS(checkpoint: weights, trunk: trunk)
    let inputs = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: files.inputs))
    let in0 = try inputs.tensor("in0"), in1 = try inputs.tensor("in1")
    guard in0.rank == 4, in0.shape[1] == 3, in0.shape == in1.shape else {
      throw ValidationError("in0 and in1 must both be [N, 3, H, W]; got \(in0.shape) and \(in1.shape)")
    }
    let leaf = in0.requiringGradient()
    let distance = lpips.distance(leaf, in1)
    let outputs = ["distance": distance.detached(), "grad_in0": gradients(of: distance.sum(), wrt: [leaf])[0]]
    try writeNetworkOutputs(outputs, tool: "lpips", to: files.output)
  }
}

extension LPIPSTrunk: ExpressibleByArgument {}

/// Writes a tool's outputs and says what was written.
func writeNetworkOutputs(_ outputs: [String: Tensor], tool: String, to path: String) throws {
  try SafeTensors.write(outputs, metadata: ["producer": "redub tools network \(tool)"], to: URL(fileURLWithPath: path))
  print("wrote \(outputs.keys.sorted().joined(separator: ", ")) to \(path)")
}
