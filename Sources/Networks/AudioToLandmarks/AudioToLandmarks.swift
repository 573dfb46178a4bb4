import Foundation
import Tensors

/// Sizes of the audio-to-landmark networks. They travel in the model file's metadata.
public struct AudioToLandmarksConfiguration: Sendable, Equatable {
  /// MFCC rows and coefficients of one video frame's window (EVP: 28 × 12).
  public var windowRows = 28
  public var windowColumns = 12
  public var contentSize = 64
  public var emotionSize = 16
  public var speakerSize = 32
  public var hiddenSize = 128
  /// Width of the alignment network's landmark tokens.
  public var tokenSize = 32
  /// The emotion classes, in the classifier's order.
  public var emotions = ["neutral", "happy", "sad", "angry"]
  /// What the alignment network's output is a change of (`PoseAlignment.Residual`). Model files
  /// without the metadata key were trained with `.poseGiving`.
  public var alignmentResidual = PoseAlignment.Residual.poseGiving

  public init() {}

  public var windowSize: Int { windowRows * windowColumns }
  public static let landmarkCount = 68

  var metadata: [String: String] {
    ["format": "redub.audio2landmarks.v1", "window_rows": "\(windowRows)", "window_columns": "\(windowColumns)",
     "content_size": "\(contentSize)", "emotion_size": "\(emotionSize)", "speaker_size": "\(speakerSize)",
     "hidden_size": "\(hiddenSize)", "token_size": "\(tokenSize)", "emotions": emotions.joined(separator: ","),
     "alignment_residual": alignmentResidual.rawValue]
  }

  init(metadata: [String: String]) throws {
    guard metadata["format"] == "redub.audio2landmarks.v1" else {
      throw NetworkCheckpointError.unrecognized(network: "audio2landmarks",
                                                reason: "metadata format is \(metadata["format"] ?? "missing"), expected redub.audio2landmarks.v1")
    }
    func int(_ key: String) throws -> Int {
      guard let v = metadata[key].flatMap(Int.init), v > 0 else {
        throw NetworkCheckpointError.unrecognized(network: "audio2landmarks", reason: "metadata \(key) is missing or not a positive integer")
      }
      return v
    }
    windowRows = try int("window_rows")
    windowColumns = try int("window_columns")
    contentSize = try int("content_size")
    emotionSize = try int("emotion_size")
    speakerSize = try int("speaker_size")
    hiddenSize = try int("hidden_size")
    tokenSize = try int("token_size")
    emotions = (metadata["emotions"] ?? "").split(separator: ",").map(String.init)
    if let residual = metadata["alignment_residual"] {
      guard let known = PoseAlignment.Residual(rawValue: residual) else {
        throw NetworkCheckpointError.unrecognized(network: "audio2landmarks", reason: "metadata alignment_residual \(residual) is not one of "
          + PoseAlignment.Residual.allCases.map(\.rawValue).joined(separator: ", "))
      }
      alignmentResidual = known
    } else {
      alignmentResidual = .poseGiving
    }
    guard emotions.count >= 2 else {
      throw NetworkCheckpointError.unrecognized(network: "audio2landmarks", reason: "metadata lists fewer than two emotions")
    }
  }
}

/// Emotion/content disentanglement after EVP (Ji et al., 2021): a content encoder and an emotion
/// encoder over each frame's MFCC window, an emotion classifier on the clip's emotion, and a
/// decoder that rebuilds a window from (content, emotion). Cross-reconstruction trains it.
public struct SpeechDisentangler: Layer, Sendable {
  public let configuration: AudioToLandmarksConfiguration
  public let content: MultilayerPerceptron
  public let emotion: MultilayerPerceptron
  public let classifier: LinearLayer
  public let decoder: MultilayerPerceptron

  public init(configuration: AudioToLandmarksConfiguration, seed: UInt64 = 1) {
    let c = configuration
    self.configuration = c
    content = MultilayerPerceptron([c.windowSize, 256, c.contentSize], seed: seed)
    emotion = MultilayerPerceptron([c.windowSize, 128, c.emotionSize], seed: seed &+ 10)
    classifier = LinearLayer(c.emotionSize, c.emotions.count, seed: seed &+ 20)
    decoder = MultilayerPerceptron([c.contentSize + c.emotionSize, 256, c.windowSize], seed: seed &+ 30)
  }

  /// [..., rows, columns] windows → [..., contentSize].
  public func contentCodes(_ windows: Tensor) -> Tensor { content(flatWindows(windows)) }

  /// [B, T, rows, columns] windows of B clips → [B, emotionSize]: the mean over the clip's
  /// frames, since emotion belongs to the utterance rather than to one frame.
  public func emotionCode(_ windows: Tensor) -> Tensor {
    precondition(windows.rank == 4, "emotionCode takes [clips, frames, rows, columns], got \(windows.shape)")
    return emotion(flatWindows(windows)).mean(axis: 1)
  }

  /// Class logits [B, classes] of emotion codes [B, emotionSize].
  public func classify(_ emotionCode: Tensor) -> Tensor { classifier(emotionCode) }

  /// content [B, T, contentSize] and emotion [B, emotionSize] → windows [B, T, rows, columns].
  public func decode(content: Tensor, emotion: Tensor) -> Tensor {
    let (b, t) = (content.shape[0], content.shape[1])
    let e = emotion.unsqueezed(at: 1).broadcast(to: [b, t, configuration.emotionSize])
    return decoder(Tensor.concat([content, e], axis: 2)).reshaped([b, t, configuration.windowRows, configuration.windowColumns])
  }

  private func flatWindows(_ w: Tensor) -> Tensor {
    precondition(w.rank >= 2 && w.shape[-2] == configuration.windowRows && w.shape[-1] == configuration.windowColumns,
                 "MFCC windows must end in [\(configuration.windowRows), \(configuration.windowColumns)], got \(w.shape)")
    return w.reshaped(Array(w.shape.dims.dropLast(2)) + [configuration.windowSize])
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    ParameterTree.join([("content", content), ("emotion", emotion), ("classifier", classifier), ("decoder", decoder)])
  }
}

/// Content and emotion codes (and an embedding of the speaker's reference landmarks) → an LSTM →
/// a two-layer MLP → each frame's landmark displacement from the reference, in the canonical
/// (pose-free) frame.
public struct LandmarkPredictor: Layer, Sendable {
  public let configuration: AudioToLandmarksConfiguration
  public let speaker: LinearLayer
  public let lstm: LSTM
  public let head: MultilayerPerceptron

  public init(configuration: AudioToLandmarksConfiguration, seed: UInt64 = 100) {
    let c = configuration
    self.configuration = c
    let points = 2 * AudioToLandmarksConfiguration.landmarkCount
    speaker = LinearLayer(points, c.speakerSize, seed: seed)
    lstm = LSTM(inputSize: c.contentSize + c.emotionSize + c.speakerSize, hiddenSize: c.hiddenSize, seed: seed &+ 10)
    head = MultilayerPerceptron([c.hiddenSize, c.hiddenSize, points], seed: seed &+ 20)
    // Start from "no displacement": an untrained predictor returns the reference face.
    let last = head.layers[head.layers.count - 1]
    last.weight.value = Tensor(zeros: last.weight.shape)
    last.bias?.value = Tensor(zeros: [points])
  }

  /// content [B, T, contentSize], emotion [B, emotionSize], reference [B, 68, 2] (canonical) →
  /// landmarks [B, T, 68, 2] (canonical).
  public func callAsFunction(content: Tensor, emotion: Tensor, reference: Tensor) -> Tensor {
    let (b, t) = (content.shape[0], content.shape[1])
    let k = AudioToLandmarksConfiguration.landmarkCount
    precondition(reference.shape == [b, k, 2], "reference landmarks must be [\(b), \(k), 2], got \(reference.shape)")
    let flatReference = reference.reshaped([b, 2 * k])
    let s = speaker(flatReference).unsqueezed(at: 1).broadcast(to: [b, t, configuration.speakerSize])
    let e = emotion.unsqueezed(at: 1).broadcast(to: [b, t, configuration.emotionSize])
    let inputs = Tensor.concat([content, e, s], axis: 2).permuted([1, 0, 2])  // [T, B, I]
    let hidden = lstm(inputs).output.permuted([1, 0, 2])  // [B, T, H]
    let displacement = head(hidden)  // [B, T, 136]
    return (displacement + flatReference.unsqueezed(at: 1)).reshaped([b, t, k, 2])
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    ParameterTree.join([("speaker", speaker), ("lstm", lstm), ("head", head)])
  }
}

/// Gives predicted (canonical) landmarks the head pose of the clip's own: each predicted
/// landmark is a query token, each of the clip frame's landmarks a key/value token; scaled
/// dot-product cross-attention, then a dense layer on (attended, query) → each landmark's move
/// from a starting point (`Residual`) in the clip's frame.
public struct PoseAlignment: Layer, Sendable {
  /// Where the network's moves start from.
  public enum Residual: String, CaseIterable, Sendable {
    /// The pose-giving landmarks themselves: the network carries the predicted mouth over the
    /// clip frame's own. Suits training on pairs of camera angles, where the query has the other
    /// angle's shape.
    case poseGiving = "pose_giving"
    /// The predicted landmarks laid onto the clip frame by the similarity that best maps their
    /// nose and eye corners (`stablePoints`, which speech does not move) onto the frame's: the
    /// predicted mouth arrives unchanged and the network learns what a similarity cannot give.
    /// Suits one camera angle, where the query has the target's shape, as at inference. On the
    /// demo world the pose-giving start, given the truth's own canonical faces, put the mouth
    /// 1.1–1.6 px off; this one 0.11 px (trained on pose-giving faces laid on by the nose).
    case placedQuery = "placed_query"
  }

  /// Nose (27–35) and eye corners (36, 39, 42, 45).
  public static let stablePoints = Array(27...35) + [36, 39, 42, 45]

  public let configuration: AudioToLandmarksConfiguration
  /// Point → token, with a learned embedding of each landmark's index.
  public let queryEmbedding: LinearLayer
  public let keyEmbedding: LinearLayer
  public let landmarkIndex: TrainableTensor
  public let attention: CrossAttention
  public let output: MultilayerPerceptron

  public init(configuration: AudioToLandmarksConfiguration, seed: UInt64 = 200) {
    let c = configuration
    self.configuration = c
    queryEmbedding = LinearLayer(2, c.tokenSize, seed: seed)
    keyEmbedding = LinearLayer(2, c.tokenSize, seed: seed &+ 2)
    landmarkIndex = TrainableTensor("index_embedding",
                                    .randomNormal([AudioToLandmarksConfiguration.landmarkCount, c.tokenSize], standardDeviation: 0.5, seed: seed &+ 4))
    attention = CrossAttention(width: c.tokenSize, seed: seed &+ 6)
    output = MultilayerPerceptron([2 * c.tokenSize, 2 * c.tokenSize, 2], seed: seed &+ 12)
    // Start from the residual's starting point itself: the network learns only the change.
    let last = output.layers[output.layers.count - 1]
    last.weight.value = Tensor(zeros: last.weight.shape)
    last.bias?.value = Tensor(zeros: [2])
  }

  /// predicted [N, 68, 2] (canonical), pose [N, 68, 2] (the clip's landmarks, clip-normalized)
  /// → [N, 68, 2] clip-normalized.
  public func callAsFunction(predicted: Tensor, pose: Tensor) -> Tensor {
    let k = AudioToLandmarksConfiguration.landmarkCount
    precondition(predicted.rank == 3 && predicted.shape == pose.shape && predicted.shape[1] == k && predicted.shape[2] == 2,
                 "PoseAlignment takes two [N, \(k), 2] landmark sets, got \(predicted.shape) and \(pose.shape)")
    let index = landmarkIndex.tensor.unsqueezed(at: 0)
    let queries = queryEmbedding(predicted) + index
    let keys = keyEmbedding(pose) + index
    let attended = attention(queries: queries, keys: keys)
    let start = configuration.alignmentResidual == .poseGiving ? pose : Self.placed(predicted, onto: pose)
    return start + output(Tensor.concat([attended, queries], axis: 2))
  }

  /// Each of `points` [N, 68, 2] moved by the similarity that maps its `stablePoints` closest (least
  /// squares) onto `target`'s. The fit is a pose estimate, held fixed in the backward pass (a
  /// predictor trained through the alignment must not learn to move the nose to steer it):
  /// the gradient reaches `points` through the similarity's rotation and scale only.
  public static func placed(_ points: Tensor, onto target: Tensor) -> Tensor {
    let fit = similarity(from: points.detached(), onto: target.detached())
    let (x, y) = components(points - fit.sourceMean)
    return Tensor.concat([fit.re * x - fit.im * y, fit.im * x + fit.re * y], axis: 2) + fit.targetMean
  }

  private static func components(_ x: Tensor) -> (Tensor, Tensor) { (x.slice(axis: 2, 0..<1), x.slice(axis: 2, 1..<2)) }

  /// The least-squares similarity of `points`' stable points onto `target`'s, as complex numbers:
  /// t − targetMean ≈ (re + i·im)·(p − sourceMean); each part [N, 1, 1] or [N, 1, 2].
  static func similarity(from points: Tensor, onto target: Tensor) -> (re: Tensor, im: Tensor, sourceMean: Tensor, targetMean: Tensor) {
    func stable(_ x: Tensor) -> Tensor { Tensor.concat(stablePoints.map { x.slice(axis: 1, $0..<($0 + 1)) }, axis: 1) }
    let sourceMean = stable(points).mean(axis: 1, keepDims: true), targetMean = stable(target).mean(axis: 1, keepDims: true)
    let (ax, ay) = components(stable(points) - sourceMean), (bx, by) = components(stable(target) - targetMean)
    // z = Σ conj(a)·b / Σ |a|².
    let norm = (ax * ax + ay * ay).sum(axis: 1, keepDims: true) + 1e-12
    let re = (ax * bx + ay * by).sum(axis: 1, keepDims: true) / norm
    let im = (ax * by - ay * bx).sum(axis: 1, keepDims: true) / norm
    return (re, im, sourceMean, targetMean)
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    ParameterTree.join([("query_embedding", queryEmbedding), ("key_embedding", keyEmbedding), ("", landmarkIndex),
                        ("attention", attention), ("output", output)])
  }
}

/// A single trainable tensor that loads by name.
public struct TrainableTensor: Layer, Sendable {
  public let parameter: Parameter
  let name: String

  public init(_ name: String, _ value: Tensor) {
    parameter = Parameter(value)
    self.name = name
  }

  public var tensor: Tensor { parameter.tensor }
  public var namedParameters: [(name: String, parameter: Parameter)] { [(name, parameter)] }
}

/// The whole audio-to-landmark model as one file: `disentangler.*`, `predictor.*`, `alignment.*`
/// `emotion_prototypes` [classes, emotionSize] (each class's mean emotion code over the
/// training clips, for `--emotion NAME`) and the MFCC standardization (`window_mean`,
/// `window_deviation`), with the configuration in the metadata.
public struct AudioToLandmarksModel: Layer, Sendable {
  public let configuration: AudioToLandmarksConfiguration
  public let disentangler: SpeechDisentangler
  public let predictor: LandmarkPredictor
  public let alignment: PoseAlignment
  public let emotionPrototypes: TrainableTensor
  /// Per-coefficient mean and standard deviation of the training MFCCs: windows are
  /// standardized with them before the encoders see them.
  public let windowMean: TrainableTensor
  public let windowDeviation: TrainableTensor

  public init(configuration: AudioToLandmarksConfiguration = AudioToLandmarksConfiguration(), seed: UInt64 = 1) {
    self.configuration = configuration
    disentangler = SpeechDisentangler(configuration: configuration, seed: seed)
    predictor = LandmarkPredictor(configuration: configuration, seed: seed &+ 100)
    alignment = PoseAlignment(configuration: configuration, seed: seed &+ 200)
    emotionPrototypes = TrainableTensor("emotion_prototypes", Tensor(zeros: [configuration.emotions.count, configuration.emotionSize]))
    emotionPrototypes.parameter.requiresGradient = false
    windowMean = TrainableTensor("window_mean", Tensor(zeros: [configuration.windowColumns]))
    windowDeviation = TrainableTensor("window_deviation", Tensor(ones: [configuration.windowColumns]))
    windowMean.parameter.requiresGradient = false
    windowDeviation.parameter.requiresGradient = false
  }

  /// Raw MFCC windows [..., rows, columns] → the standardized windows the encoders read.
  public func standardized(_ windows: Tensor) -> Tensor {
    (windows - windowMean.parameter.value) / windowDeviation.parameter.value
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    ParameterTree.join([("disentangler", disentangler), ("predictor", predictor), ("alignment", alignment),
                        ("", emotionPrototypes), ("", windowMean), ("", windowDeviation)])
  }

  public var metadata: [String: String] { configuration.metadata }

  public func write(to url: URL, extraMetadata: [String: String] = [:]) throws {
    try SafeTensors.write(stateDictionary(), metadata: metadata.merging(extraMetadata) { a, _ in a }, to: url)
  }

  /// Loads a model file strictly (every name, every shape).
  public init(checkpoint: SafeTensorsFile) throws {
    self.init(configuration: try AudioToLandmarksConfiguration(metadata: checkpoint.metadata))
    try load(from: checkpoint)
  }

  public init(contentsOf url: URL) throws {
    try self.init(checkpoint: SafeTensorsFile(contentsOf: url))
  }
}
