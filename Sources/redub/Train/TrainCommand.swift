import ArgumentParser
import Dubbing
import Foundation
import Networks
import Tensors

extension PoseAlignment.Residual: ExpressibleByArgument {}

struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Train the models redub ships training for.",
    subcommands: [TrainAudioToLandmarks.self, TrainDemoWorld.self, TrainFANDemo.self, TrainBiSeNetDemo.self])
}

/// `redub train audio2landmarks --data DIR --output M.safetensors`.
struct TrainAudioToLandmarks: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audio2landmarks",
    abstract: "Train the audio-to-landmark model (disentangler, alignment, predictor) on a dataset folder.",
    discussion: """
      Stages run in order: disentangle (content/emotion cross-reconstruction), align (pose \
      alignment), predict (LSTM predictor with the other two frozen). After every epoch the model \
      is saved to OUTPUT.checkpoint.safetensors; --resume continues from it (the optimizer's \
      moments restart). Each epoch prints its training and validation loss. The dataset layout \
      is in the README ("Training data").
      """)

  @OptionGroup var runtime: RuntimeOptions

  @Option(help: ArgumentHelp("Dataset folder: one subfolder per clip with clip.json.", valueName: "dir"))
  var data: String

  @Option(help: ArgumentHelp("Where to write the trained model (safetensors).", valueName: "file"))
  var output: String

  @Option(help: "Epochs of every stage (the per-stage options override it).")
  var epochs = 40

  @Option(help: "Epochs of the disentanglement stage.")
  var disentangleEpochs: Int?

  @Option(help: "Epochs of the alignment stage.")
  var alignEpochs: Int?

  @Option(help: "Epochs of the predictor stage.")
  var predictEpochs: Int?

  @Option(help: "Clips per batch.")
  var batchSize = 8

  @Option(help: "Video frames per training segment.")
  var segmentLength = 32

  @Option(help: "Adam learning rate.")
  var learningRate: Float = 1e-3

  @Option(help: "Seed of the initial weights and the data order.")
  var seed: UInt64 = 7

  @Option(help: "Size of the random affine warp of the pose-giving landmarks in the alignment and predictor stages.")
  var alignmentWarp = 0.02

  @Option(help: ArgumentHelp("What the alignment network's output changes: \(PoseAlignment.Residual.allCases.map(\.rawValue).joined(separator: " or ")); "
                             + "by default pose_giving when the data has pairs of camera angles, else placed_query (a new model only).",
                             valueName: "start"))
  var alignmentResidual: PoseAlignment.Residual?

  @Option(help: "Weight of the predictor's frame-to-frame motion error (0: off).")
  var velocityWeight: Float = 0

  @Flag(help: "Continue from OUTPUT.checkpoint.safetensors.")
  var resume = false

  func validate() throws {
    for (name, value) in [("--epochs", epochs), ("--batch-size", batchSize), ("--segment-length", segmentLength)] where value < 1 {
      throw ValidationError("\(name) must be at least 1.")
    }
    for (name, value) in [("--disentangle-epochs", disentangleEpochs), ("--align-epochs", alignEpochs),
                          ("--predict-epochs", predictEpochs)] where (value ?? 0) < 0 {
      throw ValidationError("\(name) must not be negative.")
    }
    if !(learningRate > 0) { throw ValidationError("--learning-rate must be positive.") }
    if !(velocityWeight >= 0 && velocityWeight.isFinite) { throw ValidationError("--velocity-weight must be a number ≥ 0.") }
    if !(0..<0.5).contains(alignmentWarp) { throw ValidationError("--alignment-warp must be in 0…0.5.") }
  }

  var checkpointURL: URL {
    let url = URL(fileURLWithPath: output)
    return url.deletingPathExtension().appendingPathExtension("checkpoint.safetensors")
  }

  func run() throws {
    runtime.apply()
    var loading = ProgressBar(title: "loading clips", total: 1)
    let dataset = try AudioToLandmarksDataset(directory: URL(fileURLWithPath: data)) { done, total in
      if loading.total != max(total, 1) { loading = ProgressBar(title: "loading clips", total: total) }
      loading.update(done)
    }
    print("dataset: \(dataset.training.count) training and \(dataset.validation.count) validation clips, "
      + "\(dataset.clips.reduce(0) { $0 + $1.frameCount }) frames, emotions \(dataset.emotions.joined(separator: ", "))")

    var settings = AudioToLandmarksTrainer.Settings()
    settings.epochs = [.disentangle: disentangleEpochs ?? epochs, .align: alignEpochs ?? epochs, .predict: predictEpochs ?? epochs]
    settings.batchSize = batchSize
    settings.segmentLength = segmentLength
    settings.learningRate = learningRate
    settings.seed = seed
    settings.warp = alignmentWarp
    settings.velocityLossWeight = velocityWeight

    let model: AudioToLandmarksModel
    var resumeStage = AudioToLandmarksTrainer.Stage.disentangle, resumeEpoch = 0
    if resume {
      guard FileManager.default.fileExists(atPath: checkpointURL.path) else {
        throw ValidationError("--resume: no checkpoint at \(checkpointURL.path)")
      }
      let file = try SafeTensorsFile(contentsOf: checkpointURL)
      model = try AudioToLandmarksModel(checkpoint: file)
      guard let stage = file.metadata["training_stage"].flatMap(AudioToLandmarksTrainer.Stage.init(rawValue:)),
            let epoch = file.metadata["training_epoch"].flatMap(Int.init) else {
        throw ValidationError("\(checkpointURL.path) is a model but not a training checkpoint (no training_stage/training_epoch)")
      }
      (resumeStage, resumeEpoch) = (stage, epoch)
      print("resuming at \(stage) epoch \(epoch + 1)")
    } else {
      var configuration = AudioToLandmarksConfiguration()
      configuration.emotions = dataset.emotions.count >= 2 ? dataset.emotions : dataset.emotions + ["other"]
      configuration.alignmentResidual = alignmentResidual ?? dataset.suitedAlignmentResidual
      print("alignment residual: \(configuration.alignmentResidual.rawValue)")
      model = AudioToLandmarksModel(configuration: configuration, seed: seed)
    }
    var trainer = try AudioToLandmarksTrainer(model: model, dataset: dataset, settings: settings)
    if !resume { trainer.fitStandardization() }

    let stages = AudioToLandmarksTrainer.Stage.allCases
    for stage in stages[stages.firstIndex(of: resumeStage)!...] {
      let start = stage == resumeStage ? resumeEpoch : 0
      if let epochs = settings.epochs[stage], start > epochs {
        print("\(stage) already ran \(start) epochs (more than the \(epochs) asked for); going on to the next stage")
      }
      var bar: ProgressBar?
      var epoch = start
      try trainer.train(stage, startEpoch: start, report: { r in
        epoch = r.epoch
        let validation = r.validationLoss.map { String(format: ", validation %.5f", $0) } ?? ""
        let terms = r.terms.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }.joined(separator: ", ")
        print(String(format: "%@ epoch %d/%d: training %.5f%@ (%@) %.1f s, %.0f %@/s", r.stage.rawValue, r.epoch, r.epochs,
                     r.trainingLoss, validation, terms, r.seconds, Double(r.examples) / max(r.seconds, 1e-9), r.unit))
        fflush(nil)
      }, batchProgress: { done, total in
        if done == 1 { bar = ProgressBar(title: "\(stage.rawValue) epoch \(epoch + 1)", total: total) }
        bar?.update(done)
      }, checkpoint: { stage, epoch in
        try model.write(to: checkpointURL, extraMetadata: ["training_stage": stage.rawValue, "training_epoch": "\(epoch)"])
      })
      // The next stage starts from scratch; a checkpoint taken now resumes there.
      if let next = stages.firstIndex(of: stage).map({ $0 + 1 }), next < stages.count {
        try model.write(to: checkpointURL, extraMetadata: ["training_stage": stages[next].rawValue, "training_epoch": "0"])
      }
    }
    try model.write(to: URL(fileURLWithPath: output))
    try? FileManager.default.removeItem(at: checkpointURL)
    let clips = dataset.validation.isEmpty ? dataset.training : dataset.validation
    print("\(dataset.validation.isEmpty ? "training" : "validation") clips: \(AudioToLandmarksEvaluation(model: model, clips: clips))")
    print("wrote \(output)")
  }
}
