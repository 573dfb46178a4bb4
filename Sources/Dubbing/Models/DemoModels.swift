import Foundation
import Networks
import Tensors

/// A small, deterministic model set: every network the job needs, with seeded random weights
/// (nothing is downloaded or trained). It makes the pipeline runnable end to end for smoke
/// tests and the demo; its output means nothing, and everything that reports on it says so.
public enum DemoModels {
  /// The demo generator: 64², style 64, two mapping layers.
  public static let generatorConfiguration = StyleGAN2Configuration(
    size: 64, styleDim: 64, mappingLayers: 2, channels: [4: 64, 8: 64, 16: 32, 32: 32, 64: 16])

  /// The demo world's trained generator at `size` (64 or 128): the smoke set's network, with a
  /// 128² level of 16 channels added for 128 (the demo's aligned crop spans about 190 pixels of
  /// its 256² frames, so a 64² render is enlarged 3×). The shipped one is 64²: the 128² one took
  /// 2.5× the training and the edit 3×, and measured no better (README, "The measured edit").
  public static func trainedGeneratorConfiguration(size: Int) -> StyleGAN2Configuration {
    precondition(size == 64 || size == 128, "the demo generator is 64² or 128²")
    var c = generatorConfiguration
    if size == 128 {
      c = StyleGAN2Configuration(size: 128, styleDim: c.styleDim, mappingLayers: c.mappingLayers,
                                 channels: c.channels.merging([128: 16]) { a, _ in a })
    }
    return c
  }

  /// Writes the set into `folder` (created if needed): generator, LPIPS-VGG, FAN with one
  /// hourglass, S3FD, BiSeNet and an untrained audio-to-landmark model. No e4e: the job inverts
  /// by optimization.
  public static func write(to folder: URL, seed: UInt64 = 1) throws {
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let models = ModelFolder(folder)
    let generator = StyleGAN2Generator(generatorConfiguration, seed: seed)
    try SafeTensors.write(generator.stateDictionary().merging(["latent_avg": generator.meanLatent]) { a, _ in a },
                          metadata: generatorConfiguration.metadata.merging(["demo": "seeded random weights"]) { a, _ in a },
                          to: models.path(.generator))
    let lpips = LPIPS(trunk: .vgg), fan = FAN(modules: 1), detector = S3FD(), parsing = BiSeNet(classes: 19)
    for (role, layer) in [(ModelRole.lpips, lpips as any Layer), (.fan, fan), (.detector, detector), (.parsing, parsing)] {
      randomize(layer, seed: seed &+ UInt64(role.rawValue.count))
      try SafeTensors.write(layer.stateDictionary(), metadata: ["demo": "seeded random weights"], to: models.path(role))
    }
    try AudioToLandmarksModel(seed: seed).write(to: models.path(.audioToLandmarks), extraMetadata: ["demo": "untrained"])
  }

  /// Adds a reduced-width e4e encoder (width 16, sized for the folder's generator) with seeded
  /// random weights and the generator's mean latent as `latent_avg`, so jobs on the demo set can
  /// take their pivots from an encoder. Its codes are scaled down (an untrained encoder's raw
  /// codes would put every pivot far from the generator's latent space).
  public static func writeEncoder(to folder: URL, seed: UInt64 = 1) throws {
    let models = ModelFolder(folder)
    let generator = try StyleGAN2Generator(contentsOf: models.path(.generator))
    let c = generator.configuration
    let encoder = E4EEncoder(generatorSize: c.size, width: 16, styleDim: c.styleDim)
    randomize(encoder, seed: seed &+ 77)
    for (name, p) in encoder.namedParameters where name.hasPrefix("styles.") && name.hasSuffix(".linear.weight") {
      p.value = p.value * 0.01
    }
    var tensors = Dictionary(uniqueKeysWithValues: encoder.stateDictionary().map { ("encoder." + $0.key, $0.value) })
    tensors["latent_avg"] = generator.meanLatent.reshaped([1, c.styleDim]).broadcast(to: [c.latentCount, c.styleDim])
    try SafeTensors.write(tensors, metadata: ["demo": "seeded random weights"], to: models.path(.encoder))
  }

  /// He-normal convolution and linear weights, unit norm scales and running variances, zero
  /// biases and means; LPIPS's linear layers non-negative as trained ones are.
  public static func randomize(_ layer: any Layer, seed: UInt64) {
    for (i, (name, p)) in layer.namedParameters.enumerated() {
      if name.hasSuffix("running_var") || (p.shape.rank == 1 && name.hasSuffix("weight")) {
        p.value = Tensor(ones: p.shape)
      } else if p.shape.rank >= 2 {
        let fanIn = p.shape.dims.dropFirst().reduce(1, *)
        let w = Tensor.randomNormal(p.shape, standardDeviation: (2 / Float(max(fanIn, 1))).squareRoot(), seed: seed &+ UInt64(i))
        p.value = name.hasPrefix("lin") ? w.abs() : w
      } else {
        p.value = Tensor(zeros: p.shape)
      }
    }
  }
}
