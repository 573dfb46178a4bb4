import Foundation
import Media
import Networks
import Tensors

/// One edit run stage by stage in this process, every result written to the state folder
/// before the next step starts: a step whose file exists is not run again, so an interrupted
/// edit resumes where it stopped. Crops live in chunk files, never all in memory at once.
public final class LocalEdit {
  public struct Inputs: Codable, Sendable, Equatable {
    public var clip: String
    public var audio: String
    public var models: String
    public var landmarks: String?
    public var output: String
    public init(clip: String, audio: String, models: String, landmarks: String?, output: String) {
      (self.clip, self.audio, self.models, self.landmarks, self.output) = (clip, audio, models, landmarks, output)
    }
  }

  /// Progress: the stage, steps done and total, and the latest loss terms when the step has any.
  public typealias Progress = (EditStage, Int, Int, LossTerms?) -> Void

  public let inputs: Inputs
  public let settings: EditSettings
  public let state: URL
  let models: ModelFolder
  let progress: Progress
  let log: (String) -> Void
  /// Steps that ran in this process (not taken from the state folder), by stage.
  public private(set) var ranSteps: [EditStage: Int] = [:]
  /// Seconds spent per stage in this process.
  public private(set) var seconds: [EditStage: Double] = [:]
  /// First and last loss terms of every optimized window / inverted chunk, for the report.
  public private(set) var lossCurves: [String: [LossTerms]] = [:]

  /// Opens (or creates) the state folder; a folder holding another job's state is refused.
  public init(inputs: Inputs, settings: EditSettings, state: URL, progress: @escaping Progress = { _, _, _, _ in },
              log: @escaping (String) -> Void = { _ in }) throws {
    self.inputs = inputs
    self.settings = settings
    self.state = state
    self.models = ModelFolder(URL(fileURLWithPath: inputs.models))
    self.progress = progress
    self.log = log
    try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
    let jobFile = state.appendingPathComponent("job.json")
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    let job = try encoder.encode(JobDescription(inputs: inputs, settings: settings))
    if let existing = try? Data(contentsOf: jobFile) {
      guard let old = try? JSONDecoder().decode(JobDescription.self, from: existing), old == JobDescription(inputs: inputs, settings: settings) else {
        throw EditError.stateMismatch("\(state.path) holds the state of another edit (job.json differs); use a new --state folder")
      }
    } else {
      try job.write(to: jobFile, options: .atomic)
    }
  }

  struct JobDescription: Codable, Equatable {
    var inputs: Inputs
    var settings: EditSettings
  }

  /// Reopens a state folder's edit.
  public static func resume(state: URL, progress: @escaping Progress = { _, _, _, _ in }, log: @escaping (String) -> Void = { _ in }) throws -> LocalEdit {
    let data: Data
    do { data = try Data(contentsOf: state.appendingPathComponent("job.json")) } catch {
      throw EditError.stateMismatch("\(state.path) holds no edit to resume (no job.json)")
    }
    let job = try JSONDecoder().decode(JobDescription.self, from: data)
    return try LocalEdit(inputs: job.inputs, settings: job.settings, state: state, progress: progress, log: log)
  }

  // MARK: Files

  func file(_ stage: EditStage, _ name: String) -> URL {
    let folder = state.appendingPathComponent(stage.rawValue)
    try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder.appendingPathComponent(name)
  }

  func exists(_ url: URL) -> Bool { FileManager.default.fileExists(atPath: url.path) }

  func chunkName(_ prefix: String, _ index: Int) -> String { String(format: "%@-%05d.safetensors", prefix, index) }

  private func timed(_ stage: EditStage, _ body: () throws -> Void) rethrows {
    let start = ContinuousClock.now
    try body()
    let d = ContinuousClock.now - start
    seconds[stage, default: 0] += Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
  }

  private func ran(_ stage: EditStage) { ranSteps[stage, default: 0] += 1 }

  // MARK: Running

  /// Runs every stage that is not finished yet.
  public func run() throws -> EditReport {
    let plan = try timedPrepare()
    let generator = try models.load(.generator, StyleGAN2Generator.init(contentsOf:))
    let critics = EditingCritics(lpips: try models.load(.lpips) { try LPIPS(contentsOf: $0) },
                                 fan: try models.load(.fan, FAN.init(contentsOf:)), fanInputSize: settings.fanInputSize)
    try timed(.invert) { try invert(plan, generator: generator, critics: critics) }
    let tuned = try tunedGenerator(plan, base: generator, critics: critics)
    let windows = WindowPlan(frameCount: plan.editable.count, windowLength: settings.windowLength, overlap: settings.overlap)
    try timed(.optimize) { try optimize(plan, windows: windows, generator: tuned, critics: critics) }
    var seam = 1.0
    try timed(.merge) { seam = try merge(windows) }
    try timed(.stitch) { try stitch(plan, generator: tuned) }
    try timed(.composite) { try composite(plan) }
    return EditReport(frames: plan.frameCount, edited: plan.editable.count, missing: plan.missing, seamMetric: seam,
                      seconds: Dictionary(uniqueKeysWithValues: seconds.map { ($0.key.rawValue, $0.value) }),
                      ranSteps: Dictionary(uniqueKeysWithValues: ranSteps.map { ($0.key.rawValue, $0.value) }),
                      lossCurves: lossCurves.mapValues { $0.map(\.values) },
                      demoModels: (try? SafeTensorsFile(contentsOf: models.path(.generator)))?.metadata["demo"] != nil,
                      output: inputs.output)
  }

  // MARK: prepare

  /// What `prepare` found: the clip's size and rate, the frames with a face (edited) and their
  /// crop quads, in the order the later stages index them.
  struct Plan: Codable {
    var frameCount: Int
    var width: Int
    var height: Int
    var frameRate: Double
    var editable: [Int]
    var missing: [Int]
    /// Per editable frame: centre x, y, axis x (x, y), axis y (x, y).
    var quads: [[Double]]

    func quad(_ i: Int) -> FaceQuad {
      let q = quads[i]
      return FaceQuad(center: SIMD2(q[0], q[1]), x: SIMD2(q[2], q[3]), y: SIMD2(q[4], q[5]))
    }
  }

  var cropSize: Int { (try? StyleGAN2Configuration(metadata: SafeTensorsFile(contentsOf: models.path(.generator)).metadata).size) ?? 1024 }

  private func timedPrepare() throws -> Plan {
    var plan: Plan!
    try timed(.prepare) { plan = try prepare() }
    return plan
  }

  func prepare() throws -> Plan {
    let planFile = file(.prepare, "plan.json")
    if let data = try? Data(contentsOf: planFile), let plan = try? JSONDecoder().decode(Plan.self, from: data) { return plan }
    let size = cropSize
    // Landmarks: given, or detected and tracked.
    let track: LandmarkTrack
    if let path = inputs.landmarks {
      track = try LandmarkTrack(contentsOf: URL(fileURLWithPath: path))
    } else {
      let detector = S3FDFaceDetector(network: try models.load(.detector, S3FD.init(contentsOf:)))
      let estimator = FANLandmarkEstimator(network: try models.load(.fan, FAN.init(contentsOf:)))
      var tracker = LandmarkTracker(detector: detector, estimator: estimator)
      let reader = try VideoReader(path: inputs.clip)
      var frames: [TrackedLandmarks] = []
      while let frame = try reader.nextFrame() {
        frames.append(tracker.track(frame.image))
        progress(.prepare, frames.count, reader.info.frameCount, nil)
      }
      track = LandmarkTrack(frames: frames, width: reader.info.displayWidth, height: reader.info.displayHeight,
                            frameRate: reader.info.frameRate.doubleValue)
    }
    let reader = try VideoReader(path: inputs.clip)
    guard track.frames.count == reader.info.frameCount else {
      throw EditError.stateMismatch("the landmarks have \(track.frames.count) frames, the clip \(reader.info.frameCount)")
    }
    let missing = track.missingFrames
    if !missing.isEmpty && settings.onMissingFace == "fail" { throw EditError.missingFaces(missing) }
    guard let filled = AudioToLandmarksClip.fillMissing(track.frames.map(\.points), faceFound: track.frames.map(\.faceFound)) else {
      throw EditError.noFace("no frame of \(inputs.clip) has a face; there is nothing to edit")
    }
    let editable = track.frames.indices.filter { track.frames[$0].faceFound }
    let quads = FaceQuad.smoothed(filled.map { FaceQuad(landmarks: FaceLandmarks($0)) })
    // Target landmarks from the dub.
    let model = try models.load(.audioToLandmarks, AudioToLandmarksModel.init(contentsOf:))
    let samples = try SpeechInput.samples(path: inputs.audio)
    if SpeechInput.isSilent(samples) { throw AudioToLandmarksError.silentAudio(inputs.audio) }
    let fps = reader.info.frameRate.doubleValue
    let windows = SpeechInput.windows(samples, frames: track.frames.count, fps: fps)
    let inference = AudioToLandmarksInference(model: model)
    let emotion: AudioToLandmarksInference.Emotion = settings.emotion == "auto" ? .auto : .named(settings.emotion)
    let code = try inference.emotionCode(emotion, dubWindows: windows, strength: settings.emotionStrength)
    let target = inference.landmarks(dubWindows: windows, emotion: code, original: filled)
    // Crops and target landmarks in crop pixels, in chunks.
    var chunk: [Tensor] = [], targets: [[SIMD2<Double>]] = [], chunkIndex = 0
    var position = 0  // index into `editable`
    func flush() throws {
      guard !chunk.isEmpty else { return }
      try SafeTensors.write(["crops": Tensor.concat(chunk, axis: 0), "targets": targets.landmarkTensor()],
                            to: file(.prepare, chunkName("crops", chunkIndex)))
      chunk.removeAll()
      targets.removeAll()
      chunkIndex += 1
    }
    while let frame = try reader.nextFrame() {
      guard position < editable.count, editable[position] == frame.index else { continue }
      let crop = FaceCrop(quad: quads[frame.index], size: size)
      chunk.append(crop.crop(frame.image) * 2 - 1)
      targets.append(target[frame.index].map(crop.toCrop))
      position += 1
      progress(.prepare, position, editable.count, nil)
      if chunk.count == settings.chunkFrames { try flush() }
    }
    try flush()
    let plan = Plan(frameCount: track.frames.count, width: reader.info.displayWidth, height: reader.info.displayHeight,
                    frameRate: reader.info.frameRate.doubleValue,
                    editable: editable, missing: missing,
                    quads: editable.map { let q = quads[$0]; return [q.center.x, q.center.y, q.x.x, q.x.y, q.y.x, q.y.y] })
    try JSONEncoder().encode(plan).write(to: planFile, options: .atomic)
    ran(.prepare)
    return plan
  }

  /// Crops and crop-space target landmarks of editable frames `range` (indices into `editable`).
  func crops(_ range: Range<Int>) throws -> (crops: Tensor, targets: [[SIMD2<Double>]]) {
    let k = settings.chunkFrames
    var crops: [Tensor] = [], targets: [[SIMD2<Double>]] = []
    var chunk = -1
    var all = Tensor(zeros: [1]), t: [Float] = []
    for i in range {
      if i / k != chunk {
        chunk = i / k
        let file = try SafeTensorsFile(contentsOf: self.file(.prepare, chunkName("crops", chunk)))
        (all, t) = (try file.tensor("crops"), try file.tensor("targets").scalars)
      }
      crops.append(all.slice(axis: 0, (i % k)..<(i % k + 1)))
      let base = (i % k) * 136
      targets.append((0..<68).map { SIMD2(Double(t[base + 2 * $0]), Double(t[base + 2 * $0 + 1])) })
    }
    return (Tensor.concat(crops, axis: 0), targets)
  }

  // MARK: invert

  func invert(_ plan: Plan, generator: StyleGAN2Generator, critics: EditingCritics) throws {
    let k = settings.chunkFrames
    let chunks = (plan.editable.count + k - 1) / k
    var settings = LatentInversion.Settings()
    settings.steps = self.settings.invertSteps
    settings.learningRate = self.settings.invertLearningRate
    for c in 0..<chunks {
      let out = file(.invert, chunkName("pivots", c))
      if exists(out) { continue }
      let (frames, _) = try crops((c * k)..<min((c + 1) * k, plan.editable.count))
      var curve: [LossTerms] = []
      let pivots = LatentInversion(generator: generator, critics: critics, settings: settings).invert(frames) { step, terms in
        curve.append(terms)
        progress(.invert, c * settings.steps + step, chunks * settings.steps, terms)
        return true
      }
      lossCurves["invert \(c)"] = [curve.first, curve.last].compactMap { $0 }
      try SafeTensors.write(["pivots": pivots], to: out)
      ran(.invert)
    }
  }

  func pivots(_ range: Range<Int>) throws -> Tensor {
    let k = settings.chunkFrames
    var rows: [Tensor] = []
    for c in (range.lowerBound / k)...((range.upperBound - 1) / k) {
      let all = try SafeTensorsFile(contentsOf: file(.invert, chunkName("pivots", c))).tensor("pivots")
      let lo = max(range.lowerBound, c * k) - c * k, hi = min(range.upperBound, (c + 1) * k) - c * k
      rows.append(all.slice(axis: 0, lo..<hi))
    }
    return Tensor.concat(rows, axis: 0)
  }

  // MARK: tune

  func tunedGenerator(_ plan: Plan, base: StyleGAN2Generator, critics: EditingCritics) throws -> StyleGAN2Generator {
    let out = file(.tune, "generator.safetensors")
    if !exists(out) {
      try timed(.tune) {
        // Pivotal tuning reads every frame; a long clip's crops are read a batch at a time.
        var settings = PivotalTuning.Settings()
        settings.steps = self.settings.tuneSteps
        settings.learningRate = self.settings.tuneLearningRate
        let n = plan.editable.count
        let tuning = PivotalTuning(generator: base, critics: critics, settings: settings)
        var curve: [LossTerms] = []
        try tuning.tune(batch: { step in
          let start = (step * settings.batchSize) % n
          let rows = (0..<min(settings.batchSize, n)).map { (start + $0) % n }
          return (Tensor.concat(try rows.map { try self.crops($0..<($0 + 1)).crops }, axis: 0),
                  Tensor.concat(try rows.map { try self.pivots($0..<($0 + 1)) }, axis: 0))
        }, progress: { step, terms in
          curve.append(terms)
          progress(.tune, step, settings.steps, terms)
          return true
        })
        lossCurves["tune"] = [curve.first, curve.last].compactMap { $0 }
        try SafeTensors.write(base.stateDictionary().merging(["latent_avg": base.meanLatent]) { a, _ in a },
                              metadata: base.configuration.metadata, to: out)
        ran(.tune)
      }
    }
    return try StyleGAN2Generator(contentsOf: out)
  }

  // MARK: optimize and merge

  func optimize(_ plan: Plan, windows: WindowPlan, generator: StyleGAN2Generator, critics: EditingCritics) throws {
    var settings = WindowOptimization.Settings()
    settings.steps = self.settings.optimizeSteps
    settings.learningRate = self.settings.optimizeLearningRate
    settings.lpipsWeight = self.settings.lpipsWeight
    settings.fanWeight = self.settings.fanWeight
    settings.smoothnessWeight = self.settings.smoothnessWeight
    let optimizer = WindowOptimization(generator: generator, critics: critics, settings: settings)
    for window in windows.windows {
      let out = file(.optimize, String(format: "window-%04d.safetensors", window.index))
      if exists(out) { continue }
      let (frames, targets) = try crops(window.frames)
      let heatmaps = critics.targetHeatmaps(cropLandmarks: targets, cropSize: generator.configuration.size)
      let left = try window.leftBoundary.map { try pivots($0..<($0 + 1)).select(axis: 0, 0) }
      let right = try window.rightBoundary.map { try pivots($0..<($0 + 1)).select(axis: 0, 0) }
      var curve: [LossTerms] = []
      let latents = optimizer.optimize(frames: frames, targetHeatmaps: heatmaps, initial: try pivots(window.frames),
                                       left: left, right: right) { step, terms in
        curve.append(terms)
        progress(.optimize, window.index * settings.steps + step, windows.windows.count * settings.steps, terms)
        return true
      }
      lossCurves["optimize \(window.index)"] = [curve.first, curve.last].compactMap { $0 }
      try SafeTensors.write(["latents": latents], to: out)
      ran(.optimize)
    }
  }

  func merge(_ windows: WindowPlan) throws -> Double {
    let out = file(.merge, "latents.safetensors")
    if let done = try? SafeTensorsFile(contentsOf: out), let seam = done.metadata["seam_metric"].flatMap(Double.init) { return seam }
    let solutions = try windows.windows.map {
      try SafeTensorsFile(contentsOf: file(.optimize, String(format: "window-%04d.safetensors", $0.index))).tensor("latents")
    }
    let latents = windows.merge(solutions, blend: WindowPlan.Blend(rawValue: settings.blend) ?? .linear)
    let seam = windows.seamMetric(latents)
    try SafeTensors.write(["latents": latents], metadata: ["seam_metric": String(seam)], to: out)
    ran(.merge)
    progress(.merge, 1, 1, nil)
    return seam
  }

  // MARK: stitch and composite

  func stitch(_ plan: Plan, generator: StyleGAN2Generator) throws {
    let parsing = try models.load(.parsing, BiSeNet.init(contentsOf:))
    let latents = try SafeTensorsFile(contentsOf: file(.merge, "latents.safetensors")).tensor("latents")
    var settings = StitchingTuning.Settings()
    settings.steps = self.settings.stitchSteps
    settings.learningRate = self.settings.stitchLearningRate
    let stitching = StitchingTuning(generator: generator, settings: settings)
    let k = self.settings.chunkFrames
    let chunks = (plan.editable.count + k - 1) / k
    for c in 0..<chunks {
      let out = file(.stitch, chunkName("stitched", c))
      if exists(out) { continue }
      let range = (c * k)..<min((c + 1) * k, plan.editable.count)
      let (originals, _) = try crops(range)
      var images: [Tensor] = [], masks: [Tensor] = []
      for (j, i) in range.enumerated() {
        let latent = latents.slice(axis: 0, i..<(i + 1))
        let render = withFrozen(generator.parameters) { generator.synthesize(latent).detached() }
        let face = BiSeNet.mask(parsing.logits(BiSeNet.normalize(rgb01: ((render + 1) * 0.5).clamped(min: 0, max: 1))))
        let m = stitching.masks(faceMask: face)
        images.append(stitching.stitch(original: originals.slice(axis: 0, j..<(j + 1)), latent: latent, masks: m))
        masks.append(face)
        progress(.stitch, i + 1, plan.editable.count, nil)
      }
      try SafeTensors.write(["images": Tensor.concat(images, axis: 0), "masks": Tensor.concat(masks, axis: 0)], to: out)
      ran(.stitch)
    }
  }

  func composite(_ plan: Plan) throws {
    let output = URL(fileURLWithPath: inputs.output)
    if exists(file(.composite, "done")) && exists(output) { return }
    let size = cropSize
    let paste = PasteBack(cropSize: size)
    let reader = try VideoReader(path: inputs.clip)
    let temporary = output.deletingLastPathComponent()
      .appendingPathComponent(".\(output.deletingPathExtension().lastPathComponent).partial.\(output.pathExtension)")
    try? FileManager.default.removeItem(at: temporary)
    let writer = try VideoWriter(path: temporary.path, width: plan.width, height: plan.height, frameRate: reader.info.frameRate,
                                 audio: .file(inputs.audio))
    let k = settings.chunkFrames
    var position = 0, chunk = -1
    var images = Tensor(zeros: [1]), masks = Tensor(zeros: [1])
    while let frame = try reader.nextFrame() {
      var image = frame.image
      if position < plan.editable.count && plan.editable[position] == frame.index {
        if position / k != chunk {
          chunk = position / k
          let file = try SafeTensorsFile(contentsOf: self.file(.stitch, chunkName("stitched", chunk)))
          (images, masks) = (try file.tensor("images"), try file.tensor("masks"))
        }
        let j = position % k
        let edited = ((images.slice(axis: 0, j..<(j + 1)) + 1) * 0.5).clamped(min: 0, max: 1)
        image = paste.paste(edited, into: image, crop: FaceCrop(quad: plan.quad(position), size: size),
                            faceMask: masks.slice(axis: 0, j..<(j + 1)))
        position += 1
      }
      try writer.append(image)
      progress(.composite, frame.index + 1, plan.frameCount, nil)
    }
    try writer.finish()
    try? FileManager.default.removeItem(at: output)
    try FileManager.default.moveItem(at: temporary, to: output)
    try Data().write(to: file(.composite, "done"))
    ran(.composite)
  }
}

/// What an edit did, for the terminal and the report file.
public struct EditReport: Codable, Sendable {
  public var frames: Int
  public var edited: Int
  public var missing: [Int]
  public var seamMetric: Double
  public var seconds: [String: Double]
  public var ranSteps: [String: Int]
  public var lossCurves: [String: [[String: Double]]]
  /// True when the models are the demo set: the edit shows the pipeline works, nothing more.
  public var demoModels: Bool
  public var output: String
}
