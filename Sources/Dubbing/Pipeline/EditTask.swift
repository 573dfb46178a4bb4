import Foundation

/// One step of an edit job: a stage applied to named input files, producing named output files.
/// The same tasks run in one process (`LocalEdit`) and on the farm (the CLI turns them into
/// farm task specs), so both compute the same bytes.
public struct EditTask: Codable, Sendable, Equatable {
  /// Unique within the job: "prepare", "invert-00003", "tune", "optimize-0012", "merge",
  /// "stitch-00003", "composite".
  public var key: String
  public var stage: EditStage
  public var parameters: EditTaskParameters
  public var inputs: [EditInputBinding]
  /// Keys of the tasks whose outputs it reads.
  public var dependsOn: [String]
  /// Outputs that are the job's results, by output name → what they are ("video", "latents").
  public var exports: [String: String] = [:]

  public init(key: String, stage: EditStage, parameters: EditTaskParameters, inputs: [EditInputBinding], dependsOn: [String],
              exports: [String: String] = [:]) {
    (self.key, self.stage, self.parameters, self.inputs, self.dependsOn, self.exports) = (key, stage, parameters, inputs, dependsOn, exports)
  }

  /// The farm's task kind for a stage.
  public static func kind(_ stage: EditStage) -> String { "edit.\(stage.rawValue)" }
  public var kind: String { EditTask.kind(stage) }
}

/// An input the task sees under `name`: a job input or an output of a task it depends on.
public struct EditInputBinding: Codable, Sendable, Equatable {
  public var name: String
  public var jobInput: String?
  public var task: String?
  public var output: String?

  public static func job(_ name: String) -> EditInputBinding { EditInputBinding(name: name, jobInput: name) }
  public static func output(_ output: String, of task: String, as name: String? = nil) -> EditInputBinding {
    EditInputBinding(name: name ?? output, task: task, output: output)
  }
}

/// What every task of a job shares, plus the task's own index (chunk or window).
public struct EditTaskParameters: Codable, Sendable, Equatable {
  public var settings: EditSettings
  /// The generator's resolution: crops are this size.
  public var cropSize: Int
  /// True when the job has precomputed landmarks (no detection).
  public var hasLandmarks: Bool
  /// True when the pivots come from the e4e encoder (else from optimization).
  public var useEncoder = false
  /// Frames with a face (known after prepare; 0 for prepare itself).
  public var editableCount = 0
  /// Chunk or window index.
  public var index = 0
  /// Optimization pass (1, or 2 with `boundaryPasses` 2).
  public var pass = 1
  /// Where the job's results go on the farm: export role ("video", "latents") → path relative to
  /// the job's output folder. `redub edit` writes the video to its --output instead.
  public var exportPaths: [String: String] = [:]

  public init(settings: EditSettings, cropSize: Int, hasLandmarks: Bool, useEncoder: Bool = false) {
    self.settings = settings
    self.cropSize = cropSize
    self.hasLandmarks = hasLandmarks
    self.useEncoder = useEncoder
  }

  public func encoded() -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return try! encoder.encode(self)
  }

  public static func decode(_ data: Data) throws -> EditTaskParameters {
    try JSONDecoder().decode(EditTaskParameters.self, from: data)
  }
}

/// What `prepare` found: the clip's size and rate, the frames with a face (edited) and their
/// crop quads, in the order the later stages index them.
public struct EditPlan: Codable, Sendable, Equatable {
  public var frameCount: Int
  public var width: Int
  public var height: Int
  public var frameRate: Double
  public var editable: [Int]
  public var missing: [Int]
  /// Per editable frame: centre x, y, axis x (x, y), axis y (x, y).
  public var quads: [[Double]]
  /// How many frames the dub lasts at the clip's rate (it was padded or trimmed to `frameCount`).
  public var dubFrames: Int

  /// A note for the report when the dub's length differs from the clip's by more than a frame.
  public var audioNote: String? {
    guard abs(dubFrames - frameCount) > 1 else { return nil }
    return "the dub lasts \(dubFrames) frames, the clip \(frameCount): "
      + (dubFrames < frameCount ? "the dub was padded with silence (closed mouth) at the end" : "the dub was trimmed to the clip")
  }
}

/// The tasks of an edit job and how they feed each other. `prepare` is the only task known before
/// the clip is read; it returns the rest (`followUps`), sized by the frames that have a face.
public enum EditJobPlan {
  /// Job input names.
  public static let clip = "clip", audio = "audio", landmarks = "landmarks"
  public static func model(_ role: ModelRole) -> String { "model.\(role.rawValue)" }

  /// The networks each stage reads (the tuned generator comes from `tune`, not the job).
  public static func models(_ stage: EditStage, _ p: EditTaskParameters) -> [ModelRole] {
    switch stage {
    case .prepare: p.hasLandmarks ? [.audioToLandmarks] : [.audioToLandmarks, .detector, .fan]
    case .invert: p.useEncoder ? [.generator, .encoder] : [.generator, .lpips, .fan]
    case .tune: [.generator, .lpips, .fan]
    case .optimize: [.lpips, .fan]
    case .stitch: [.parsing]
    case .merge, .composite: []
    }
  }

  /// Every model the job reads.
  public static func models(_ p: EditTaskParameters) -> [ModelRole] {
    ModelRole.allCases.filter { role in EditStage.allCases.contains { models($0, p).contains(role) } }
  }

  public static func chunkName(_ prefix: String, _ index: Int) -> String { String(format: "%@-%05d", prefix, index) }
  public static func windowName(_ index: Int) -> String { String(format: "window-%04d", index) }
  public static func optimizeKey(_ window: Int, pass: Int = 1) -> String {
    String(format: pass == 1 ? "optimize-%04d" : "optimize\(pass)-%04d", window)
  }

  /// The first task.
  public static func prepare(_ parameters: EditTaskParameters) -> EditTask {
    var inputs: [EditInputBinding] = [.job(clip), .job(audio)]
    if parameters.hasLandmarks { inputs.append(.job(landmarks)) }
    inputs += models(.prepare, parameters).map { .job(model($0)) }
    return EditTask(key: "prepare", stage: .prepare, parameters: parameters, inputs: inputs, dependsOn: [])
  }

  /// The chunks of `count` editable frames.
  public static func chunks(_ count: Int, _ settings: EditSettings) -> [Range<Int>] {
    let k = settings.chunkFrames
    return stride(from: 0, to: count, by: k).map { $0..<min($0 + k, count) }
  }

  /// Everything after `prepare`, for a clip with `editableCount` frames that have a face.
  public static func followUps(_ base: EditTaskParameters, editableCount: Int) -> [EditTask] {
    var parameters = base
    parameters.editableCount = editableCount
    func with(_ index: Int) -> EditTaskParameters {
      var p = parameters
      p.index = index
      return p
    }
    func modelInputs(_ stage: EditStage) -> [EditInputBinding] { models(stage, base).map { .job(model($0)) } }
    let k = base.settings.chunkFrames
    let chunks = chunks(editableCount, base.settings)
    func crops(_ c: Int) -> EditInputBinding { .output(chunkName("crops", c), of: "prepare") }
    func pivots(_ c: Int) -> EditInputBinding { .output("pivots", of: chunkName("invert", c), as: chunkName("pivots", c)) }
    let tuned = EditInputBinding.output("generator", of: "tune")

    var tasks: [EditTask] = []
    for c in chunks.indices {
      tasks.append(EditTask(key: chunkName("invert", c), stage: .invert, parameters: with(c),
                            inputs: [crops(c)] + modelInputs(.invert), dependsOn: ["prepare"]))
    }
    tasks.append(EditTask(key: "tune", stage: .tune, parameters: parameters,
                          inputs: chunks.indices.flatMap { [crops($0), pivots($0)] } + modelInputs(.tune),
                          dependsOn: ["prepare"] + chunks.indices.map { chunkName("invert", $0) }))
    let windows = WindowPlan(frameCount: editableCount, windowLength: base.settings.windowLength, overlap: base.settings.overlap)
    for window in windows.windows {
      let frameChunks = Set(window.frames.map { $0 / k })
      let pivotFrames = window.frames.map { $0 } + [window.leftBoundary, window.rightBoundary].compactMap { $0 }
      let pivotChunks = Set(pivotFrames.map { $0 / k })
      tasks.append(EditTask(key: optimizeKey(window.index), stage: .optimize,
                            parameters: with(window.index),
                            inputs: frameChunks.sorted().map(crops) + pivotChunks.sorted().map(pivots) + [tuned] + modelInputs(.optimize),
                            dependsOn: ["prepare", "tune"] + pivotChunks.sorted().map { chunkName("invert", $0) }))
    }
    // A second pass: each window again, from its first solution, its ends tied to the
    // neighbours' first-pass latents at the frames just outside it.
    if base.settings.boundaryPasses >= 2 {
      for window in windows.windows {
        var p = with(window.index)
        p.pass = 2
        let frameChunks = Set(window.frames.map { $0 / k })
        let neighbours = [window.index - 1, window.index + 1].filter { windows.windows.indices.contains($0) }
        tasks.append(EditTask(key: optimizeKey(window.index, pass: 2), stage: .optimize, parameters: p,
                              inputs: frameChunks.sorted().map(crops) + [tuned] + modelInputs(.optimize)
                                + ([window.index] + neighbours).map { .output("latents", of: optimizeKey($0), as: windowName($0)) },
                              dependsOn: ["prepare", "tune"] + ([window.index] + neighbours).map { optimizeKey($0) }))
      }
    }
    let finalPass = base.settings.boundaryPasses >= 2 ? 2 : 1
    let optimizeKeys = windows.windows.map { optimizeKey($0.index, pass: finalPass) }
    tasks.append(EditTask(key: "merge", stage: .merge, parameters: parameters,
                          inputs: zip(windows.windows, optimizeKeys).map { .output("latents", of: $1, as: windowName($0.index)) },
                          dependsOn: optimizeKeys, exports: ["latents": "latents"]))
    for c in chunks.indices {
      tasks.append(EditTask(key: chunkName("stitch", c), stage: .stitch, parameters: with(c),
                            inputs: [crops(c), .output("latents", of: "merge"), tuned] + modelInputs(.stitch),
                            dependsOn: ["prepare", "tune", "merge"]))
    }
    tasks.append(EditTask(key: "composite", stage: .composite, parameters: parameters,
                          inputs: [.job(clip), .job(audio), .output("plan", of: "prepare")]
                            + chunks.indices.map { .output("stitched", of: chunkName("stitch", $0), as: chunkName("stitched", $0)) },
                          dependsOn: ["prepare"] + chunks.indices.map { chunkName("stitch", $0) }, exports: ["video": "video"]))
    return tasks
  }
}
