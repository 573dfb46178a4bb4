import ArgumentParser
import Dubbing
import Foundation
import Networks
import Tensors

struct AudioToLandmarksBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audio2landmarks",
    abstract: "Audio-to-landmark inference time per minute of audio, and training throughput.",
    discussion: """
      Inference: --seconds of 16 kHz audio at 25 fps through MFCC windows, the emotion code, \
      content codes, the LSTM predictor and the alignment network (the work of \
      `redub tools audio2landmarks` after decoding). Training: one epoch of each stage over \
      --clips clips of 2.5 s with seeded random features and landmarks (speed does not depend \
      on the data), in clips per second.
      """)

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var options: BenchOptions

  @Option(help: "Seconds of audio for the inference measurement.")
  var seconds = 60.0

  @Option(help: "Clips for the training measurement.")
  var clips = 64

  func validate() throws {
    if !(seconds > 0) || clips < 2 { throw ValidationError("--seconds must be positive and --clips at least 2.") }
  }

  func run() throws {
    runtime.apply()
    var report = BenchReport(columns: ["measure", "count", "seconds", "value", "unit"], json: options.json,
                             widths: ["measure": 18, "unit": 21])
    let fps = 25.0
    let model = AudioToLandmarksModel()
    let inference = AudioToLandmarksInference(model: model)

    // Inference on a minute of audio.
    var generator = SeededGenerator(seed: 3)
    let samples = (0..<Int(seconds * 16_000)).map { i in
      Float(sin(Double(i) * 0.07) * 0.3) + Float.random(in: -0.05...0.05, using: &generator)
    }
    let frames = SpeechInput.frameCount(samples, fps: fps)
    let face = Self.face(seed: 1)
    let original = (0..<frames).map { t in face.map { $0 + SIMD2(3 * sin(Double(t) * 0.05), 2 * cos(Double(t) * 0.03)) } }
    var windows = Tensor(zeros: [1])
    let featureSeconds = fastestTime(minTime: options.minTime) { windows = SpeechInput.windows(samples, frames: frames, fps: fps) }
    let modelSeconds = fastestTime(minTime: options.minTime) {
      let code = inference.emotionCode(windows: windows)
      _ = inference.landmarks(dubWindows: windows, emotion: code, original: original)
    }
    report.add(["measure": "inference_features", "count": frames, "seconds": featureSeconds, "value": featureSeconds * 60 / seconds,
                "unit": "s per minute of audio"])
    report.add(["measure": "inference_model", "count": frames, "seconds": modelSeconds, "value": modelSeconds * 60 / seconds,
                "unit": "s per minute of audio"])
    report.add(["measure": "inference_total", "count": frames, "seconds": featureSeconds + modelSeconds,
                "value": (featureSeconds + modelSeconds) * 60 / seconds, "unit": "s per minute of audio"])

    // Training throughput.
    let emotions = model.configuration.emotions
    let dataset = AudioToLandmarksDataset(clips: try (0..<clips).map { i in
      let length = 62
      let base = Self.face(seed: UInt64(10 + i % 4))
      let landmarks = (0..<length).map { t in base.map { $0 + SIMD2(sin(Double(t + i)) * 2, cos(Double(t)) * 2) } }
      return try AudioToLandmarksClip(
        name: "clip\(i)", windows: .randomNormal([length, 28, 12], seed: UInt64(i)), landmarks: landmarks,
        faceFound: Array(repeating: true, count: length), emotion: emotions[i % emotions.count], speaker: "s\(i % 2)",
        sentence: "\(i / 8)", angle: "front")
    })
    var settings = AudioToLandmarksTrainer.Settings()
    settings.epochs = [.disentangle: 1, .align: 1, .predict: 1]
    var trainer = try AudioToLandmarksTrainer(model: model, dataset: dataset, settings: settings)
    trainer.fitStandardization()
    for stage in AudioToLandmarksTrainer.Stage.allCases {
      var epoch: AudioToLandmarksTrainer.EpochReport?
      try trainer.train(stage, report: { epoch = $0 })
      guard let epoch else { continue }
      report.add(["measure": "train_\(stage.rawValue)", "count": clips, "seconds": epoch.seconds,
                  "value": Double(clips) / epoch.seconds, "unit": "clips/s"])
    }
  }

  /// 68 points of a face-like layout: a ring with two eye clusters.
  static func face(seed: UInt64) -> [SIMD2<Double>] {
    var g = SeededGenerator(seed: seed)
    return (0..<68).map { k in
      let a = Double(k) / 68 * 2 * Double.pi
      var p = SIMD2(160 + 50 * cos(a), 120 + 60 * sin(a))
      if (36..<42).contains(k) { p = SIMD2(140 + Double(k - 36) * 3, 100) }
      if (42..<48).contains(k) { p = SIMD2(180 + Double(k - 42) * 3, 100) }
      return p + SIMD2(Double.random(in: -2...2, using: &g), Double.random(in: -2...2, using: &g))
    }
  }
}
