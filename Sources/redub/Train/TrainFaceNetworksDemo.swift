import ArgumentParser
import DemoWorld
import Dubbing
import Foundation
import Networks
import Tensors

/// Options shared by the demo world's face-network trainers.
struct DemoTrainingOptions: ParsableArguments {
  @Option(help: ArgumentHelp("Where to write the trained network (safetensors).", valueName: "file"))
  var output: String

  @Option(help: "Adam steps.")
  var steps: Int

  @Option(help: "Faces per step.")
  var batchSize = 8

  @Option(help: "Adam's initial learning rate, decayed to a tenth along a cosine (default 3e-3 for the FAN, 2e-3 for BiSeNet).")
  var learningRate: Float?

  @Option(help: "Seed of the initial weights and the faces.")
  var seed: UInt64 = 1

  @Option(help: "Held-out faces to measure the trained network on (0: none).")
  var evaluationFaces = 100

  @Option(help: "Print the mean loss every this many steps.")
  var reportEvery = 25

  func validate() throws {
    if steps < 1 { throw ValidationError("--steps must be at least 1.") }
    if batchSize < 2 { throw ValidationError("--batch-size must be at least 2 (batch norm trains on batch statistics).") }
    if let learningRate, !(learningRate > 0) { throw ValidationError("--learning-rate must be positive.") }
    if evaluationFaces < 0 { throw ValidationError("--evaluation-faces must not be negative.") }
    if reportEvery < 1 { throw ValidationError("--report-every must be at least 1.") }
  }

  /// Prints the mean loss of each `reportEvery` steps with the elapsed time.
  func reporter(_ name: String) -> (DemoWorldTraining.Progress) -> Void {
    var sum: Float = 0, count = 0
    let every = reportEvery
    return { p in
      sum += p.loss
      count += 1
      if count == every || p.step == p.steps {
        print(String(format: "%@ step %d/%d: loss %.5f, %.0f s", name, p.step, p.steps, sum / Float(count), p.seconds))
        fflush(nil)
        sum = 0
        count = 0
      }
    }
  }
}

/// `redub train fan-demo`: a reduced FAN on the demo world.
struct TrainFANDemo: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fan-demo",
    abstract: "Train a reduced-width FAN on the demo world's rendered faces and measure it.",
    discussion: """
      Every step renders fresh random faces on 256² frames (varied identities, poses, blinks and \
      mouth shapes) and trains on two crops the product reads: the aligned face crop (the \
      generator's view, which L_fan reads) and face-alignment's crop around a face box. The loss \
      is the mean squared error against the pipeline's own target heatmaps. After training the \
      network is measured on held-out faces (landmark error in frame pixels, all 68 points and \
      the mouth) and written with its width and input size in the safetensors metadata.
      """)

  @OptionGroup var training: DemoTrainingOptions
  @OptionGroup var runtime: RuntimeOptions

  @Option(help: "Channels of the hourglass trunk (256 in the published FAN; a multiple of 16).")
  var width = 32

  @Option(help: "Hourglass modules (4 in the published FAN).")
  var modules = 1

  @Option(help: "Side of the crop the FAN reads (a multiple of 64; heatmaps are a quarter of it).")
  var inputSize = 128

  @Option(help: "Weight of the target's foreground in the heatmap MSE (1 + w·target per pixel; 0: plain MSE).")
  var foregroundWeight: Float = 20

  func validate() throws {
    if width < 16 || width % 16 != 0 { throw ValidationError("--width must be a positive multiple of 16.") }
    if modules < 1 { throw ValidationError("--modules must be at least 1.") }
    if inputSize < 64 || inputSize % 64 != 0 { throw ValidationError("--input-size must be a multiple of 64.") }
    if !(foregroundWeight >= 0) { throw ValidationError("--foreground-weight must not be negative.") }
  }

  func run() throws {
    runtime.apply()
    let t = training
    let fan = DemoWorldTraining.trainFAN(width: width, modules: modules, inputSize: inputSize, steps: t.steps, batchSize: t.batchSize,
                                         learningRate: t.learningRate ?? 3e-3, foregroundWeight: foregroundWeight, seed: t.seed,
                                         progress: t.reporter("fan"))
    try fan.write(to: URL(fileURLWithPath: t.output),
                  metadata: DemoWorldTraining.checkpointMetadata(steps: t.steps, batchSize: t.batchSize, seed: t.seed))
    print("wrote \(t.output) (\(fan.parameterCount) parameters)")
    if t.evaluationFaces > 0 { DemoWorldFANAccuracyTool.report(fan, faces: t.evaluationFaces) }
  }
}

/// `redub train bisenet-demo`: a reduced BiSeNet on the demo world.
struct TrainBiSeNetDemo: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bisenet-demo",
    abstract: "Train a reduced-width BiSeNet on the demo world's rendered face masks and measure it.",
    discussion: """
      Every step renders fresh random faces on 256² frames and trains on their aligned crops at \
      the generator's resolution (the stitching stage parses the generator's renders) with \
      per-pixel cross-entropy on the rendered masks (BiSeNet's 19 classes). After training the \
      face-mask IoU (the classes stitching counts as face) is measured on held-out faces.
      """)

  @OptionGroup var training: DemoTrainingOptions
  @OptionGroup var runtime: RuntimeOptions

  @Option(help: "Channels of the ResNet stem (64 in the published BiSeNet; a multiple of 4).")
  var width = 16

  @Option(help: "Side of the aligned crop (the generator's resolution; a multiple of 32).")
  var inputSize = 64

  func validate() throws {
    if width < 4 || width % 4 != 0 { throw ValidationError("--width must be a positive multiple of 4.") }
    if inputSize < 32 || inputSize % 32 != 0 { throw ValidationError("--input-size must be a multiple of 32.") }
  }

  func run() throws {
    runtime.apply()
    let t = training
    let network = DemoWorldTraining.trainBiSeNet(width: width, inputSize: inputSize, steps: t.steps, batchSize: t.batchSize,
                                                 learningRate: t.learningRate ?? 2e-3, seed: t.seed, progress: t.reporter("bisenet"))
    try network.write(to: URL(fileURLWithPath: t.output),
                      metadata: DemoWorldTraining.checkpointMetadata(steps: t.steps, batchSize: t.batchSize, seed: t.seed))
    print("wrote \(t.output) (\(network.parameterCount) parameters)")
    if t.evaluationFaces > 0 {
      let iou = DemoWorldTraining.evaluateBiSeNet(network, faces: t.evaluationFaces)
      print(String(format: "held-out face-mask IoU: %.4f over %d faces", iou, t.evaluationFaces))
    }
  }
}
