import ArgumentParser
import Foundation
import Networks
import Tensors

struct BiSeNetTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bisenet",
    abstract: "BiSeNet face parsing: class logits of the three heads and the face mask.",
    discussion: """
      Reads `input` [N, 3, H, W] (RGB normalized with ImageNet's mean and deviation) from \
      --inputs. Writes `logits`, `logits16`, `logits32` [N, 19, H, W] and `face_mask` [N, 1, H, W] \
      (1 where the most likely class is neither background, cloth nor hat).
      """)

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var files: NetworkToolFiles

  func run() throws {
    runtime.apply()
    let net = try BiSeNet(contentsOf: URL(fileURLWithPath: files.weights))
    let inputs = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: files.inputs))
    let input = try inputs.tensor("input")
    guard input.rank == 4, input.shape[1] == 3 else { throw ValidationError("input must be [N, 3, H, W], got \(input.shape)") }
    let (logits, logits16, logits32) = net.allLogits(input)
    try writeNetworkOutputs(["logits": logits, "logits16": logits16, "logits32": logits32,
                             "face_mask": BiSeNet.mask(logits)], tool: "bisenet", to: files.output)
  }
}
