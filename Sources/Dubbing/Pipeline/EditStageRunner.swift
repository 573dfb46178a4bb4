import Foundation
import Media
import Networks
import Tensors

/// What a task produced: output files (in the scratch folder it was given), metrics, the loss
/// terms of its first and last optimization step, and — from `prepare` — the rest of the job.
public struct EditTaskResult: Sendable {
  public var outputs: [String: URL] = [:]
  public var metrics: [String: Double] = [:]
  public var followUps: [EditTask] = []

  /// Steps of a loss curve kept in the metrics (evenly spaced, first and last included).
  public static let curveSamples = 16

  /// The first and last loss terms, as metrics "first.TERM" / "last.TERM", and the curve at up
  /// to `curveSamples` steps as "curve.STEP.TERM" (for the report's plots).
  mutating func record(curve: [LossTerms]) {
    guard let first = curve.first, let last = curve.last else { return }
    for (prefix, terms) in [("first", first), ("last", last)] {
      for (name, value) in terms.values { metrics["\(prefix).\(name)"] = value }
      metrics["\(prefix).total"] = terms.total
    }
    let samples = min(curve.count, Self.curveSamples)
    for k in 0..<samples {
      let step = samples == 1 ? 0 : k * (curve.count - 1) / (samples - 1)
      let key = String(format: "curve.%05d.", step + 1)
      for (name, value) in curve[step].values { metrics[key + name] = value }
      metrics[key + "total"] = curve[step].total
    }
  }

  /// The sampled curve of `record(curve:)`: step → term → value, in step order.
  public static func sampledCurve(_ metrics: [String: Double]) -> [(step: Int, terms: [String: Double])] {
    var byStep: [Int: [String: Double]] = [:]
    for (key, value) in metrics where key.hasPrefix("curve.") {
      let parts = key.split(separator: ".", maxSplits: 2)
      guard parts.count == 3, let step = Int(parts[1]) else { continue }
      byStep[step, default: [:]][String(parts[2])] = value
    }
    return byStep.keys.sorted().map { ($0, byStep[$0]!) }
  }

  /// The metric holding the seam at a boundary frame.
  public static func seamKey(_ frame: Int) -> String { String(format: "seam.%05d", frame) }

  /// The seams by boundary frame recorded by merge.
  public static func seams(_ metrics: [String: Double]) -> [(frame: Int, value: Double)] {
    metrics.compactMap { key, value in
      key.hasPrefix("seam.") ? Int(key.dropFirst(5)).map { ($0, value) } : nil
    }.sorted { $0.frame < $1.frame }
  }

  /// The loss terms recorded by `record(curve:)`: [first, last].
  public static func lossCurve(_ metrics: [String: Double]) -> [[String: Double]] {
    ["first", "last"].map { prefix in
      Dictionary(uniqueKeysWithValues: metrics.compactMap { key, value in
        key.hasPrefix(prefix + ".") && key != prefix + ".total" ? (String(key.dropFirst(prefix.count + 1)), value) : nil
      })
    }.filter { !$0.isEmpty }
  }
}

/// Runs one edit task: reads its inputs by name, writes its outputs into `scratch`.
/// Long loops report (done, total, loss terms) and stop when `progress` returns false.
public struct EditStageRunner {
  public typealias Progress = (_ done: Int, _ total: Int, _ terms: LossTerms?) -> Bool
  /// Offered after every step of invert (by optimization), tune, optimize and stitch: a caption
  /// ("edited frame 12") and the step's render of that frame, made only if `image` is called —
  /// so a caller that wants a thumbnail once a second pays for one conversion a second.
  public typealias Preview = (_ caption: String, _ image: () -> RGBImage) -> Void

  let input: (String) throws -> URL
  let scratch: URL
  let progress: Progress
  let preview: Preview

  public init(scratch: URL, input: @escaping (String) throws -> URL, progress: @escaping Progress = { _, _, _ in true },
              preview: @escaping Preview = { _, _ in }) {
    self.scratch = scratch
    self.input = input
    self.progress = progress
    self.preview = preview
  }

  /// Offers row `row` of renders [N, 3, R, R] in [−1, 1] as a preview.
  func offer(_ renders: Tensor, row: Int, caption: String) {
    preview(caption) { RGBImage(tensor: ((renders.slice(axis: 0, row..<(row + 1)) + 1) * 0.5).clamped(min: 0, max: 1)) }
  }

  public func run(_ task: EditTask) throws -> EditTaskResult {
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    let p = task.parameters
    switch task.stage {
    case .prepare: return try prepare(p)
    case .invert: return try invert(p)
    case .tune: return try tune(p)
    case .optimize: return try optimize(p)
    case .merge: return try merge(p)
    case .stitch: return try stitch(p)
    case .composite: return try composite(p)
    }
  }

  // MARK: Inputs

  /// A network from the job's inputs; a wrong file is an error naming the role.
  func model<T>(_ role: ModelRole, _ loader: (URL) throws -> T) throws -> T {
    let url = try input(EditJobPlan.model(role))
    do { return try loader(url) } catch { throw ModelSetError.unreadable(path: "\(role.fileName) (\(url.path))", reason: "\(error)") }
  }

  func critics(_ settings: EditSettings) throws -> EditingCritics {
    EditingCritics(lpips: try model(.lpips) { try LPIPS(contentsOf: $0) }, fan: try model(.fan, FAN.init(contentsOf:)),
                   fanInputSize: settings.fanInputSize)
  }

  func tensors(_ name: String) throws -> SafeTensorsFile { try SafeTensorsFile(contentsOf: try input(name)) }

  func output(_ name: String, _ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> URL {
    let url = scratch.appendingPathComponent(name + ".safetensors")
    try SafeTensors.write(tensors, metadata: metadata, to: url)
    return url
  }

  /// Crops and crop-space target landmarks of editable frames `range`, read from the crop chunks.
  func crops(_ range: Range<Int>, _ settings: EditSettings) throws -> (crops: Tensor, targets: [[SIMD2<Double>]]) {
    let k = settings.chunkFrames
    var crops: [Tensor] = [], targets: [[SIMD2<Double>]] = []
    var chunk = -1
    var all = Tensor(zeros: [1]), t: [Float] = []
    for i in range {
      if i / k != chunk {
        chunk = i / k
        let file = try tensors(EditJobPlan.chunkName("crops", chunk))
        (all, t) = (try file.tensor("crops"), try file.tensor("targets").scalars)
      }
      crops.append(all.slice(axis: 0, (i % k)..<(i % k + 1)))
      let base = (i % k) * 136
      targets.append((0..<68).map { SIMD2(Double(t[base + 2 * $0]), Double(t[base + 2 * $0 + 1])) })
    }
    return (Tensor.concat(crops, axis: 0), targets)
  }

  /// Pivot latents of editable frames `range`, read from the invert chunks.
  func pivots(_ range: Range<Int>, _ settings: EditSettings) throws -> Tensor {
    let k = settings.chunkFrames
    var rows: [Tensor] = []
    for c in (range.lowerBound / k)...((range.upperBound - 1) / k) {
      let all = try tensors(EditJobPlan.chunkName("pivots", c)).tensor("pivots")
      let lo = max(range.lowerBound, c * k) - c * k, hi = min(range.upperBound, (c + 1) * k) - c * k
      rows.append(all.slice(axis: 0, lo..<hi))
    }
    return Tensor.concat(rows, axis: 0)
  }

  func stopped() -> EditError { .cancelled }

  // MARK: prepare

  func prepare(_ p: EditTaskParameters) throws -> EditTaskResult {
    let settings = p.settings
    let clip = try input(EditJobPlan.clip)
    // Landmarks: given, or detected and tracked.
    let track: LandmarkTrack
    if p.hasLandmarks {
      track = try LandmarkTrack(contentsOf: try input(EditJobPlan.landmarks))
    } else {
      let detector = S3FDFaceDetector(network: try model(.detector, S3FD.init(contentsOf:)))
      let estimator = FANLandmarkEstimator(network: try model(.fan, FAN.init(contentsOf:)))
      var tracker = LandmarkTracker(detector: detector, estimator: estimator)
      let reader = try VideoReader(path: clip.path)
      var frames: [TrackedLandmarks] = []
      while let frame = try reader.nextFrame() {
        frames.append(tracker.track(frame.image))
        guard progress(frames.count, reader.info.frameCount, nil) else { throw stopped() }
      }
      track = LandmarkTrack(frames: frames, width: reader.info.displayWidth, height: reader.info.displayHeight,
                            frameRate: reader.info.frameRate.doubleValue)
    }
    let reader = try VideoReader(path: clip.path)
    guard track.frames.count == reader.info.frameCount else {
      throw EditError.stateMismatch("the landmarks have \(track.frames.count) frames, the clip \(reader.info.frameCount)")
    }
    let missing = track.missingFrames
    if !missing.isEmpty && settings.onMissingFace == "fail" { throw EditError.missingFaces(missing) }
    guard let filled = AudioToLandmarksClip.fillMissing(track.frames.map(\.points), faceFound: track.frames.map(\.faceFound)) else {
      throw EditError.noFace("no frame of the clip has a face; there is nothing to edit")
    }
    let editable = track.frames.indices.filter { track.frames[$0].faceFound }
    let quads = FaceQuad.smoothed(filled.map { FaceQuad(landmarks: FaceLandmarks($0)) })
    // Target landmarks from the dub.
    let model = try model(.audioToLandmarks, AudioToLandmarksModel.init(contentsOf:))
    let audio = try input(EditJobPlan.audio)
    let samples = try SpeechInput.samples(path: audio.path)
    if SpeechInput.isSilent(samples) { throw AudioToLandmarksError.silentAudio("the dub") }
    let dubFrames = SpeechInput.frameCount(samples, fps: reader.info.frameRate.doubleValue)
    if abs(dubFrames - track.frames.count) > 1 && settings.audioLength == "error" {
      throw EditError.audioLength(String(format: "the dub lasts %.2f s (%d frames), the clip %d frames; --audio-length fit pads or trims it",
                                         Double(samples.count) / 16_000, dubFrames, track.frames.count))
    }
    let windows = SpeechInput.windows(samples, frames: track.frames.count, fps: reader.info.frameRate.doubleValue)
    let inference = AudioToLandmarksInference(model: model)
    let emotion: AudioToLandmarksInference.Emotion = settings.emotion == "auto" ? .auto : .named(settings.emotion)
    let code = try inference.emotionCode(emotion, dubWindows: windows, strength: settings.emotionStrength)
    // Calibration to the speaker with the clip's own soundtrack; a clip without one (or a
    // silent one) is edited uncalibrated, and the metric says so.
    var offsets: [SIMD2<Double>]?
    if settings.speakerCalibration ?? true, let own = try? SpeechInput.samples(path: clip.path), !SpeechInput.isSilent(own) {
      let ownWindows = SpeechInput.windows(own, frames: track.frames.count, fps: reader.info.frameRate.doubleValue)
      offsets = inference.speakerOffsets(ownWindows: ownWindows, original: filled, faceFound: track.frames.map(\.faceFound))
    }
    let target = inference.landmarks(dubWindows: windows, emotion: code, original: filled, speakerOffsets: offsets)
    // Crops and target landmarks in crop pixels, in chunks.
    var result = EditTaskResult()
    var chunk: [Tensor] = [], targets: [[SIMD2<Double>]] = [], chunkIndex = 0
    var position = 0  // index into `editable`
    func flush() throws {
      guard !chunk.isEmpty else { return }
      let name = EditJobPlan.chunkName("crops", chunkIndex)
      result.outputs[name] = try output(name, ["crops": Tensor.concat(chunk, axis: 0), "targets": targets.landmarkTensor()])
      chunk.removeAll()
      targets.removeAll()
      chunkIndex += 1
    }
    while let frame = try reader.nextFrame() {
      guard position < editable.count, editable[position] == frame.index else { continue }
      let crop = FaceCrop(quad: quads[frame.index], size: p.cropSize)
      chunk.append(crop.crop(frame.image) * 2 - 1)
      targets.append(target[frame.index].map(crop.toCrop))
      position += 1
      guard progress(position, editable.count, nil) else { throw stopped() }
      if chunk.count == settings.chunkFrames { try flush() }
    }
    try flush()
    let plan = EditPlan(frameCount: track.frames.count, width: reader.info.displayWidth, height: reader.info.displayHeight,
                        frameRate: reader.info.frameRate.doubleValue, editable: editable, missing: missing,
                        quads: editable.map { let q = quads[$0]; return [q.center.x, q.center.y, q.x.x, q.x.y, q.y.x, q.y.y] },
                        dubFrames: dubFrames)
    let planURL = scratch.appendingPathComponent("plan.json")
    try JSONEncoder().encode(plan).write(to: planURL, options: .atomic)
    result.outputs["plan"] = planURL
    result.metrics = ["frames": Double(plan.frameCount), "edited": Double(editable.count), "missing": Double(missing.count),
                      "dub_frames": Double(dubFrames), "speaker_calibrated": offsets == nil ? 0 : 1]
    result.followUps = EditJobPlan.followUps(p, editableCount: editable.count)
    return result
  }

  // MARK: invert and tune

  func invert(_ p: EditTaskParameters) throws -> EditTaskResult {
    let range = EditJobPlan.chunks(p.editableCount, p.settings)[p.index]
    let generator = try model(.generator, StyleGAN2Generator.init(contentsOf:))
    if p.useEncoder {
      let (encoder, average) = try model(.encoder) { url in
        let file = try SafeTensorsFile(contentsOf: url)
        return (try E4EEncoder(checkpoint: file), file.contains("latent_avg") ? try file.tensor("latent_avg") : nil)
      }
      let inversion = try EncoderInversion(encoder: encoder, meanLatent: average ?? generator.meanLatent, generator: generator.configuration)
      let (frames, _) = try crops(range, p.settings)
      guard let pivots = inversion.invert(frames, progress: { progress($0, range.count, nil) }) else { throw stopped() }
      return EditTaskResult(outputs: ["pivots": try output("pivots", ["pivots": pivots])])
    }
    var settings = LatentInversion.Settings()
    settings.steps = p.settings.invertSteps
    settings.learningRate = p.settings.invertLearningRate
    let (frames, _) = try crops(range, p.settings)
    var curve: [LossTerms] = []
    let pivots = LatentInversion(generator: generator, critics: try critics(p.settings), settings: settings).invert(frames, progress: { step, terms in
      curve.append(terms)
      return progress(step, settings.steps, terms)
    }, preview: { offer($0, row: 0, caption: "edited frame \(range.lowerBound)") })
    guard curve.count == settings.steps else { throw stopped() }
    var result = EditTaskResult(outputs: ["pivots": try output("pivots", ["pivots": pivots])])
    result.record(curve: curve)
    return result
  }

  func tune(_ p: EditTaskParameters) throws -> EditTaskResult {
    let base = try model(.generator, StyleGAN2Generator.init(contentsOf:))
    var settings = PivotalTuning.Settings()
    settings.steps = p.settings.tuneSteps
    settings.learningRate = p.settings.tuneLearningRate
    settings.locality = p.settings.tuneLocality
    let n = p.editableCount
    var curve: [LossTerms] = []
    // Pivotal tuning reads every frame; a long clip's crops are read a batch at a time.
    try PivotalTuning(generator: base, critics: try critics(p.settings), settings: settings).tune(batch: { step in
      let start = (step * settings.batchSize) % n
      let rows = (0..<min(settings.batchSize, n)).map { (start + $0) % n }
      return (Tensor.concat(try rows.map { try self.crops($0..<($0 + 1), p.settings).crops }, axis: 0),
              Tensor.concat(try rows.map { try self.pivots($0..<($0 + 1), p.settings) }, axis: 0))
    }, progress: { step, terms in
      curve.append(terms)
      return progress(step, settings.steps, terms)
    }, preview: { offer($0, row: 0, caption: "tuning, step \(curve.count)") })
    guard curve.count == settings.steps else { throw stopped() }
    let url = scratch.appendingPathComponent("generator.safetensors")
    try SafeTensors.write(base.stateDictionary().merging(["latent_avg": base.meanLatent]) { a, _ in a },
                          metadata: base.configuration.metadata, to: url)
    var result = EditTaskResult(outputs: ["generator": url])
    result.record(curve: curve)
    return result
  }

  // MARK: optimize and merge

  func optimize(_ p: EditTaskParameters) throws -> EditTaskResult {
    let windows = WindowPlan(frameCount: p.editableCount, windowLength: p.settings.windowLength, overlap: p.settings.overlap)
    let window = windows.windows[p.index]
    let generator = try StyleGAN2Generator(contentsOf: try input("generator"))
    let critics = try critics(p.settings)
    var settings = WindowOptimization.Settings()
    settings.steps = p.settings.optimizeSteps
    settings.learningRate = p.settings.optimizeLearningRate
    settings.lpipsWeight = p.settings.lpipsWeight
    settings.fanWeight = p.settings.fanWeight
    settings.smoothnessWeight = p.settings.smoothnessWeight
    if let weights = p.settings.landmarkWeights { settings.landmarkWeights = weights }
    let (frames, targets) = try crops(window.frames, p.settings)
    let heatmaps = critics.targetHeatmaps(cropLandmarks: targets, cropSize: generator.configuration.size)
    let initial: Tensor, left: Tensor?, right: Tensor?
    if p.pass == 1 {
      initial = try pivots(window.frames, p.settings)
      left = try window.leftBoundary.map { try pivots($0..<($0 + 1), p.settings).select(axis: 0, 0) }
      right = try window.rightBoundary.map { try pivots($0..<($0 + 1), p.settings).select(axis: 0, 0) }
    } else {
      // The first pass's solutions: this window's as the start, the neighbours' at the frames
      // just outside this window as its boundary latents.
      func firstPass(_ index: Int) throws -> Tensor { try tensors(EditJobPlan.windowName(index)).tensor("latents") }
      func row(of frame: Int, in index: Int) throws -> Tensor {
        try firstPass(index).select(axis: 0, frame - windows.windows[index].frames.lowerBound)
      }
      initial = try firstPass(window.index)
      left = try window.leftBoundary.map { try row(of: $0, in: window.index - 1) }
      right = try window.rightBoundary.map { try row(of: $0, in: window.index + 1) }
    }
    let tie = p.settings.boundaryLatents
    var curve: [LossTerms] = []
    // The window's middle frame stands for it on the monitor.
    let shown = window.frames.count / 2
    let latents = WindowOptimization(generator: generator, critics: critics, settings: settings)
      .optimize(frames: frames, targetHeatmaps: heatmaps, initial: initial, left: tie ? left : nil, right: tie ? right : nil,
                progress: { step, terms in
                  curve.append(terms)
                  return progress(step, settings.steps, terms)
                }, preview: { offer($0, row: shown, caption: "edited frame \(window.frames.lowerBound + shown)") })
    guard curve.count == settings.steps else { throw stopped() }
    var result = EditTaskResult(outputs: ["latents": try output("latents", ["latents": latents])])
    result.record(curve: curve)
    return result
  }

  func merge(_ p: EditTaskParameters) throws -> EditTaskResult {
    let windows = WindowPlan(frameCount: p.editableCount, windowLength: p.settings.windowLength, overlap: p.settings.overlap)
    let solutions = try windows.windows.map { try tensors(EditJobPlan.windowName($0.index)).tensor("latents") }
    let latents = windows.merge(solutions, blend: WindowPlan.Blend(rawValue: p.settings.blend) ?? .linear)
    let (seam, byFrame) = windows.seams(latents)
    _ = progress(1, 1, nil)
    var metrics = ["seam_metric": seam]
    for (frame, value) in byFrame { metrics[EditTaskResult.seamKey(frame)] = value }
    return EditTaskResult(outputs: ["latents": try output("latents", ["latents": latents], metadata: ["seam_metric": String(seam)])],
                          metrics: metrics)
  }

  // MARK: stitch and composite

  func stitch(_ p: EditTaskParameters) throws -> EditTaskResult {
    let range = EditJobPlan.chunks(p.editableCount, p.settings)[p.index]
    let generator = try StyleGAN2Generator(contentsOf: try input("generator"))
    let parsing = try model(.parsing, BiSeNet.init(contentsOf:))
    let latents = try tensors("latents").tensor("latents")
    var settings = StitchingTuning.Settings()
    settings.steps = p.settings.stitchSteps
    settings.learningRate = p.settings.stitchLearningRate
    let stitching = StitchingTuning(generator: generator, settings: settings)
    let (originals, _) = try crops(range, p.settings)
    var images: [Tensor] = [], masks: [Tensor] = []
    for (j, i) in range.enumerated() {
      let latent = latents.slice(axis: 0, i..<(i + 1))
      let render = withFrozen(generator.parameters) { generator.synthesize(latent).detached() }
      let face = parsing.faceMask(rgb01: ((render + 1) * 0.5).clamped(min: 0, max: 1))
      images.append(stitching.stitch(original: originals.slice(axis: 0, j..<(j + 1)), latent: latent, masks: stitching.masks(faceMask: face)))
      masks.append(face)
      offer(images[j], row: 0, caption: "edited frame \(i), stitched")
      guard progress(j + 1, range.count, nil) else { throw stopped() }
    }
    return EditTaskResult(outputs: ["stitched": try output("stitched", ["images": Tensor.concat(images, axis: 0),
                                                                       "masks": Tensor.concat(masks, axis: 0)])])
  }

  func composite(_ p: EditTaskParameters) throws -> EditTaskResult {
    let plan = try JSONDecoder().decode(EditPlan.self, from: Data(contentsOf: try input("plan")))
    let paste = PasteBack(cropSize: p.cropSize)
    let reader = try VideoReader(path: try input(EditJobPlan.clip).path)
    let url = scratch.appendingPathComponent("video.mp4")
    try? FileManager.default.removeItem(at: url)
    let writer = try VideoWriter(path: url.path, width: plan.width, height: plan.height, frameRate: reader.info.frameRate,
                                 audio: .file(try input(EditJobPlan.audio).path))
    let k = p.settings.chunkFrames
    var position = 0, chunk = -1
    var images = Tensor(zeros: [1]), masks = Tensor(zeros: [1])
    while let frame = try reader.nextFrame() {
      var image = frame.image
      if position < plan.editable.count && plan.editable[position] == frame.index {
        if position / k != chunk {
          chunk = position / k
          let file = try tensors(EditJobPlan.chunkName("stitched", chunk))
          (images, masks) = (try file.tensor("images"), try file.tensor("masks"))
        }
        let j = position % k
        let edited = ((images.slice(axis: 0, j..<(j + 1)) + 1) * 0.5).clamped(min: 0, max: 1)
        let q = plan.quads[position]
        let quad = FaceQuad(center: SIMD2(q[0], q[1]), x: SIMD2(q[2], q[3]), y: SIMD2(q[4], q[5]))
        image = paste.paste(edited, into: image, crop: FaceCrop(quad: quad, size: p.cropSize), faceMask: masks.slice(axis: 0, j..<(j + 1)))
        position += 1
      }
      try writer.append(image)
      guard progress(frame.index + 1, plan.frameCount, nil) else { throw stopped() }
    }
    try writer.finish()
    return EditTaskResult(outputs: ["video": url])
  }
}
