import ArgumentParser
import Foundation
import Networks
import Tensors

struct FANTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fan",
    abstract: "FAN landmark heatmaps of 256² face crops, their gradient to the input, and decoded landmarks.",
    discussion: """
      Reads `input` [N, 3, 256, 256] RGB in [0, 1] and optionally `loss_weights` [N, 68, 64, 64] \
      from --inputs. Writes `heatmaps` [N, 68, 64, 64] (last hourglass), `grad_input` = \
      ∂ sum(heatmaps · loss_weights) / ∂ input (loss_weights default to ones), and `landmarks` \
      [N, 68, 2] (crop pixels) with `landmark_scores` [N, 68] decoded as face-alignment does.
      """)

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var files: NetworkToolFiles

  func run() throws {
    runtime.apply()
    let fan = try FAN(contentsOf: URL(fileURLWithPath: files.weights))
    let inputs = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: files.inputs))
    let input = try inputs.tensor("input")
    guard input.rank == 4, input.shape[1] == 3 else { throw ValidationError("input must be [N, 3, H, W], got \(input.shape)") }
    let leaf = input.requiringGradient()
    let heatmaps = fan.heatmaps(leaf)
    let weights = inputs.contains("loss_weights") ? try inputs.tensor("loss_weights") : Tensor(ones: heatmaps.shape)
    guard weights.shape == heatmaps.shape else {
      throw ValidationError("loss_weights must be \(heatmaps.shape), got \(weights.shape)")
    }
    let grad = gradients(of: (heatmaps * weights).sum(), wrt: [leaf])[0]
    let faces = FANLandmarks.decode(heatmaps.detached())
    let n = faces.count
    let points = Tensor(faces.flatMap { $0.cropPoints.flatMap { [$0.x, $0.y] } }, shape: [n, FAN.landmarkCount, 2])
    let scores = Tensor(faces.flatMap(\.scores), shape: [n, FAN.landmarkCount])
    try writeNetworkOutputs(["heatmaps": heatmaps.detached(), "grad_input": grad, "landmarks": points,
                             "landmark_scores": scores], tool: "fan", to: files.output)
  }
}
