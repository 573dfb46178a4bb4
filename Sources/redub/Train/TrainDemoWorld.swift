import ArgumentParser
import DemoWorld
import Dubbing
import Foundation
import Networks
import Tensors

/// `redub train demo-world --output DIR`: the demo's tiny models, trained on the synthetic world.
struct TrainDemoWorld: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo-world",
    abstract: "Train the demo's tiny models on the synthetic talking-face world.",
    discussion: """
      Renders random faces (module DemoWorld), crops them with the editing pipeline's own \
      alignment and trains, in order: the StyleGAN2 generator (64², or 128² with --generator-size 128) (as the decoder of a conditional \
      auto-encoder: an MLP turns each face's drawing parameters into its W code; L1 + MSE \
      reconstruction, the face weighted 4× the rest; no discriminator) on faces of a fixed cast of \
      speakers in random poses and expressions — the demo's speaker among them, as a studio would \
      pre-train on its actors, then the audio-to-landmark \
      model on an espeak-ng speech corpus (OUTPUT/speech-corpus). Each network is written to OUTPUT in the \
      same safetensors format as a converted official checkpoint, with metadata saying how it was \
      made, together with preview images (OUTPUT/previews/). --only trains one network.
      """)

  enum Network: String, ExpressibleByArgument, CaseIterable {
    case generator, fan, bisenet, audio2landmarks
  }

  @OptionGroup var runtime: RuntimeOptions

  @Option(help: ArgumentHelp("Folder to write the trained models into.", valueName: "dir"))
  var output: String

  @Option(help: "Train only this network (\(Network.allCases.map(\.rawValue).joined(separator: ", "))).")
  var only: Network?

  @Option(help: "Rendered faces the generator learns.")
  var faces = 3000

  @Option(help: "Speakers in the generator's training cast (the demo's speaker is the first).")
  var cast = 24

  @Option(help: "Side of the generator's square output: 64 or 128.")
  var generatorSize = 64

  @Option(help: "Generator training steps.")
  var generatorSteps = 12000

  @Option(help: "Faces per generator step.")
  var batchSize = 16

  @Option(help: "Extra weight of the brows, eyes and mouth in the generator's reconstruction loss (the face counts 1, the rest 0.25).")
  var featureWeight: Float = 4

  @Option(help: "FAN training steps (redub train fan-demo).")
  var fanSteps = 6000

  @Option(help: "BiSeNet training steps (redub train bisenet-demo).")
  var bisenetSteps = 600

  @Option(help: "Clips of espeak-ng speech the audio-to-landmark model learns from.")
  var speechClips = 2400

  @Option(help: "Epochs of each audio-to-landmark training stage.")
  var audioEpochs = 20

  @Option(help: "Weight of the audio-to-landmark predictor's frame-to-frame motion error (redub train audio2landmarks --velocity-weight).")
  var audioVelocityWeight: Float = 1

  @Option(help: "Seed of the faces, the initial weights and the data order.")
  var seed: UInt64 = 1

  func validate() throws {
    for (name, value) in [("--faces", faces), ("--cast", cast), ("--generator-steps", generatorSteps), ("--batch-size", batchSize),
                          ("--speech-clips", speechClips), ("--fan-steps", fanSteps), ("--bisenet-steps", bisenetSteps), ("--audio-epochs", audioEpochs)] where value < 1 {
      throw ValidationError("\(name) must be at least 1.")
    }
    if generatorSize != 64 && generatorSize != 128 { throw ValidationError("--generator-size must be 64 or 128.") }
    if !(featureWeight >= 0 && featureWeight.isFinite) { throw ValidationError("--feature-weight must be a number ≥ 0.") }
    if !(audioVelocityWeight >= 0 && audioVelocityWeight.isFinite) { throw ValidationError("--audio-velocity-weight must be a number ≥ 0.") }
  }

  func run() throws {
    runtime.apply()
    let folder = URL(fileURLWithPath: output)
    try FileManager.default.createDirectory(at: folder.appendingPathComponent("previews"), withIntermediateDirectories: true)
    let models = ModelFolder(folder)
    if only == nil || only == .generator {
      try trainGenerator(to: models.path(.generator), previews: folder.appendingPathComponent("previews"))
    }
    var common = ["--seed", "\(seed)"]
    if let threads = runtime.threads { common += ["--threads", "\(threads)"] }
    if only == nil || only == .fan {
      print("FAN: \(fanSteps) steps (redub train fan-demo)")
      try TrainFANDemo.parse(["--output", models.path(.fan).path, "--steps", "\(fanSteps)", "--width", "32"] + common).run()
    }
    if only == nil || only == .bisenet {
      print("BiSeNet: \(bisenetSteps) steps (redub train bisenet-demo)")
      try TrainBiSeNetDemo.parse(["--output", models.path(.parsing).path, "--steps", "\(bisenetSteps)"] + common).run()
    }
    if only == nil || only == .audio2landmarks {
      try trainAudioToLandmarks(to: models.path(.audioToLandmarks), corpus: folder.appendingPathComponent("speech-corpus"))
    }
  }

  func trainGenerator(to url: URL, previews: URL) throws {
    let configuration = DemoModels.trainedGeneratorConfiguration(size: generatorSize)
    let started = Date()
    var sampler = FaceSampler(seed: seed)
    let data = AlignedFaces.make(count: faces, cast: cast, cropSize: configuration.size, sampler: &sampler, threads: Runtime.threads)
    print(String(format: "generator: %d aligned %d² faces rendered in %.1f s", faces, configuration.size, Date().timeIntervalSince(started)))
    var generator = StyleGAN2Generator(configuration, seed: seed)
    var settings = GeneratorTraining.Settings()
    settings.steps = generatorSteps
    settings.batchSize = batchSize
    settings.seed = seed
    let images = data.crops * 2 - 1
    var bar = ProgressBar(title: "generator", total: generatorSteps)
    var l1 = 0.0
    let trainingStart = Date()
    // The face counts fully, the rest of the crop (hair, clothes, backdrop) a quarter, and the
    // brows, eyes and mouth — a few pixels each at 64², yet what the edit changes and the
    // measurement reads — `featureWeight` more.
    let weights = data.faceCoverage * 0.75 + 0.25 + data.featureCoverage(radius: Double(configuration.size) / 32) * featureWeight
    let codes = GeneratorTraining(settings: settings).train(&generator, images: images, conditions: data.features, weights: weights) { p in
      l1 = p.step == 1 ? p.l1 : 0.98 * l1 + 0.02 * p.l1
      bar.update(p.step, note: String(format: "L1 %.4f", l1))
      return true
    }
    let seconds = Date().timeIntervalSince(trainingStart)
    // How well it reconstructs: PSNR of the learned codes' renders over the first faces.
    let shown = min(8, faces)
    let rendered = withFrozen(generator.parameters) { generator.synthesize(codes.slice(axis: 0, 0..<shown)) }
    let truth = images.slice(axis: 0, 0..<shown)
    let mse = Double(((rendered - truth) * 0.5).squared().mean().scalars[0])
    print(String(format: "generator: %d steps in %.0f s; reconstruction PSNR %.1f dB (first %d faces)", generatorSteps, seconds,
                 10 * log10(1 / max(mse, 1e-12)), shown))
    try SafeTensors.write(
      generator.stateDictionary().merging(["latent_avg": generator.meanLatent]) { a, _ in a },
      metadata: configuration.metadata.merging([
        "demo": "trained on the demo world (redub train demo-world)",
        "training": "conditional GLO: \(faces) faces of a cast of \(cast), \(generatorSteps) steps of \(batchSize), feature weight \(featureWeight), last \(Int(settings.decayShare * 100))% cosine decay, seed \(seed)",
      ]) { a, _ in a }, to: url)
    try ImageGrid.png(rows: [truth, rendered]).write(to: previews.appendingPathComponent("generator.png"))
    print("wrote \(url.path) and \(previews.appendingPathComponent("generator.png").path)")
  }
}

extension TrainDemoWorld {
  /// The espeak-ng corpus (kept in OUTPUT/speech-corpus, reused when complete), then
  /// `redub train audio2landmarks` on it.
  func trainAudioToLandmarks(to url: URL, corpus: URL) throws {
    let complete = corpus.appendingPathComponent(".complete-\(speechClips)-\(seed)")
    if !FileManager.default.fileExists(atPath: complete.path) {
      try? FileManager.default.removeItem(at: corpus)
      var bar = ProgressBar(title: "speech corpus", total: speechClips)
      try SpeechCorpus.write(count: speechClips, to: corpus, seed: seed) { done, _ in bar.update(done) }
      FileManager.default.createFile(atPath: complete.path, contents: Data())
    }
    // One thread: these small matrices train no faster on two, and the model then does not
    // depend on the machine's core count (the shipped one is reproducible anywhere).
    let arguments = ["--data", corpus.path, "--output", url.path, "--epochs", "\(audioEpochs)", "--seed", "\(seed)", "--threads", "1",
                     "--velocity-weight", "\(audioVelocityWeight)"]
    print("audio-to-landmarks: training on \(corpus.path)")
    try TrainAudioToLandmarks.parse(arguments).run()
    try AudioToLandmarksModel(contentsOf: url).write(to: url, extraMetadata: [
      "trained_on": "redub demo world (espeak-ng speech corpus: \(speechClips) clips, seed \(seed))",
      "training_epochs": "\(audioEpochs)",
      "training_velocity_weight": "\(audioVelocityWeight)",
    ])
  }
}

/// Rows of [N, 3, S, S] images in [−1, 1] as one PNG (for previews).
enum ImageGrid {
  static func png(rows: [Tensor]) -> Data {
    let size = rows[0].shape[2], columns = rows.map { $0.shape[0] }.max() ?? 0
    var canvas = Canvas(width: columns * (size + 2), height: rows.count * (size + 2))
    for (r, images) in rows.enumerated() {
      for n in 0..<images.shape[0] {
        for y in 0..<size {
          for x in 0..<size {
            func channel(_ c: Int) -> UInt8 { UInt8(max(0, min(255, ((images[n, c, y, x] + 1) * 127.5).rounded()))) }
            canvas.set(n * (size + 2) + x, r * (size + 2) + y, (channel(0), channel(1), channel(2)))
          }
        }
      }
    }
    return canvas.png()
  }
}
