import ArgumentParser
import Foundation
import Networks
import Tensors

struct StyleGAN2Tool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stylegan2",
    abstract: "Render W+ latents (and z) with a StyleGAN2 generator; optionally the gradient to W+.",
    discussion: """
      Reads `w_plus` [B, L, D] and optionally `z` [B, D] and `loss_weights` [B, 3, H, W] from \
      --inputs. Writes `image_from_w_plus` (constant noise), `image_from_z` when z is given, and \
      `grad_w_plus` = ∂ sum(image_from_w_plus · loss_weights) / ∂ w_plus when loss_weights is given.
      """)

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var files: NetworkToolFiles

  func run() throws {
    runtime.apply()
    let generator = try StyleGAN2Generator(contentsOf: URL(fileURLWithPath: files.weights))
    let inputs = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: files.inputs))
    var outputs: [String: Tensor] = [:]
    let wPlus = try inputs.tensor("w_plus")
    let c = generator.configuration
    guard wPlus.rank == 3, wPlus.shape[1] == c.latentCount, wPlus.shape[2] == c.styleDim else {
      throw ValidationError("w_plus must be [B, \(c.latentCount), \(c.styleDim)] for this generator, got \(wPlus.shape)")
    }
    if inputs.contains("loss_weights") {
      let weights = try inputs.tensor("loss_weights")
      let leaf = wPlus.requiringGradient()
      let image = generator.synthesize(leaf)
      guard weights.shape == image.shape else {
        throw ValidationError("loss_weights must be \(image.shape), got \(weights.shape)")
      }
      outputs["image_from_w_plus"] = image.detached()
      outputs["grad_w_plus"] = gradients(of: (image * weights).sum(), wrt: [leaf])[0]
    } else {
      outputs["image_from_w_plus"] = generator.synthesize(wPlus)
    }
    if inputs.contains("z") {
      let z = try inputs.tensor("z")
      guard z.rank == 2, z.shape[1] == c.styleDim else { throw ValidationError("z must be [B, \(c.styleDim)], got \(z.shape)") }
      outputs["image_from_z"] = generator.generate(z: z)
    }
    try SafeTensors.write(outputs, metadata: ["producer": "redub tools network stylegan2"], to: URL(fileURLWithPath: files.output))
    print("wrote \(outputs.keys.sorted().joined(separator: ", ")) to \(files.output)")
  }
}
