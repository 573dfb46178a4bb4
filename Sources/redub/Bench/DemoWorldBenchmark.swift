import ArgumentParser
import DemoWorld
import Foundation
import Tensors

/// `redub bench demo-world`: how fast the synthetic world renders faces and speaks.
struct DemoWorldBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo-world",
    abstract: "Rendered faces per second (one thread, and a batch over --threads) and espeak-ng's speed.",
    discussion: """
      Each face is a fresh draw of the seeded sampler (identity, pose, expression), so the figure \
      includes sampling, geometry, anti-aliased rasterization and the parsing mask — what a \
      training loop pays per image. `batch` renders FaceBatch.make(count: 256) over --threads \
      threads into tensors. `speak` is espeak-ng synthesis with phoneme events plus the viseme \
      track, as seconds of audio per second.
      """)

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var options: BenchOptions

  @Option(parsing: .upToNextOption, help: "Image sides to measure.")
  var sizes: [Int] = [64, 128, 256]

  func validate() throws {
    if sizes.isEmpty || sizes.contains(where: { $0 < 16 || $0 > 1024 }) { throw ValidationError("--sizes must be 16…1024.") }
  }

  func run() throws {
    runtime.apply()
    var report = BenchReport(columns: ["op", "size", "threads", "ms", "images_s", "per_min", "note"], json: options.json, widths: ["note": 36])
    for size in sizes {
      var sampler = FaceSampler(seed: 7)
      var renderer = ProceduralFaceRenderer(width: size, height: size)
      let faces = (0..<64).map { _ in sampler.next() }
      var k = 0
      var sink: Float = 0
      let one = fastestTime(minTime: options.minTime) {
        for _ in 0..<8 {
          sink += renderer.render(faces[k % faces.count]).rgb[0]
          k += 1
        }
      } / 8
      report.add(["op": "render", "size": size, "threads": 1, "ms": one * 1e3, "images_s": 1 / one, "per_min": Int(60 / one)])
      let count = 256
      var batchSampler = FaceSampler(seed: 11)
      let batch = fastestTime(minTime: options.minTime) {
        sink += FaceBatch.make(count: count, width: size, height: size, sampler: &batchSampler, threads: Runtime.threads).images.scalars[0]
      } / Double(count)
      report.add(["op": "batch", "size": size, "threads": Runtime.threads, "ms": batch * 1e3, "images_s": 1 / batch,
                  "per_min": Int(60 / batch)])
      if sink.isNaN { print("") }
    }
    let sentence = ClipConfiguration.defaultSentenceB
    var audio = 0.0
    let speak = fastestTime(minTime: options.minTime) {
      if let u = try? SpeechSynthesizer.speak(sentence) {
        audio = u.duration
        _ = VisemeTrack().frames(u.phonemes, frames: Int(u.duration * 25), fps: 25)
      }
    }
    report.add(["op": "speak", "size": "-", "threads": 1, "ms": speak * 1e3, "images_s": "-",
                "per_min": "-", "note": String(format: "%.2f s of audio: %.0f× real time", audio, audio / speak)])
  }
}
