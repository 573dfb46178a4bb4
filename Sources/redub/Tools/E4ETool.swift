import ArgumentParser
import Foundation
import Networks
import Tensors

struct E4ETool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "e4e",
    abstract: "e4e encoder: W+ codes of 256² face crops.",
    discussion: """
      Reads `input` [N, 3, 256, 256] in [-1, 1] from --inputs. Writes `codes` [N, 18, 512] before \
      the generator's average latent is added, and `w_plus` = codes + latent_avg when the weights \
      carry `latent_avg` (scripts/convert_checkpoints.py e4e keeps it). Encoder tensors are read \
      under `encoder.`, or at the top level when there are none there.
      """)

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var files: NetworkToolFiles

  func run() throws {
    runtime.apply()
    // The input first: a wrong one is refused before the encoder (~1 GB at full size) loads.
    let inputs = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: files.inputs))
    let input = try inputs.tensor("input")
    guard input.rank == 4, input.shape[1] == 3 else { throw ValidationError("input must be [N, 3, H, W], got \(input.shape)") }
    let weights = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: files.weights))
    let prefix = weights.names.contains { $0.hasPrefix("encoder.") } ? "encoder" : ""
    let encoder = try E4EEncoder(checkpoint: weights, prefix: prefix)
    let codes = encoder.codes(input)
    var outputs = ["codes": codes]
    if weights.contains("latent_avg") {
      let average = try weights.tensor("latent_avg")
      guard average.count == codes.shape[1] * codes.shape[2] || average.count == codes.shape[2] else {
        throw ValidationError("latent_avg \(average.shape) does not fit codes \(codes.shape)")
      }
      outputs["w_plus"] = codes + average.reshaped(average.count == codes.shape[2] ? [1, 1, codes.shape[2]] : [1, codes.shape[1], codes.shape[2]])
    }
    try writeNetworkOutputs(outputs, tool: "e4e", to: files.output)
  }
}
