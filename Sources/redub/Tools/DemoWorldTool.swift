import ArgumentParser
import DemoWorld
import Dubbing
import Foundation
import Media
import Networks
import Tensors

/// `redub tools demo-world ...`: the synthetic talking-face world (module DemoWorld).
struct DemoWorldTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo-world",
    abstract: "The synthetic talking-face world: clips with ground truth, random faces, espeak-ng speech.",
    discussion: """
      Faces are drawn procedurally from their 68 landmarks (so the landmarks are exact) with a \
      BiSeNet-numbered parsing mask; speech comes from espeak-ng with phoneme timings, turned \
      into mouth shapes by a viseme table with coarticulation. See README.md, "The demo world".
      """,
    subcommands: [DemoWorldClipTool.self, DemoWorldFacesTool.self, DemoWorldSpeakTool.self, DemoWorldFANAccuracyTool.self])
}

extension Emotion: ExpressibleByArgument {}

/// `redub tools demo-world clip --output DIR`: clip A, dub B, and the ground truth.
struct DemoWorldClipTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clip",
    abstract: "Write a clip of a speaker saying sentence A, the dub (sentence B) and the ground truth.",
    discussion: """
      Writes into the output folder: clip.mp4 (the speaker saying A, with A's audio), dub.wav \
      (B, espeak-ng's 22 050 Hz), truth.mp4 (the same speaker, head motion and blinks with the \
      mouth following B, with B's audio), clip_landmarks.safetensors and \
      truth_landmarks.safetensors ([frames, 68, 2], the file form of `redub tools landmarks`; \
      the exact points each frame was drawn from) and clip.json (settings, speaker, phonemes). \
      The clip is as long as the dub: ceil(duration(B) · fps) frames; A's audio is cut or \
      padded with silence to that length.
      """)

  @Option(help: ArgumentHelp("Folder to write into (created if missing).", valueName: "dir"))
  var output: String

  @Option(help: "What the speaker says in the clip.")
  var sentenceA = ClipConfiguration.defaultSentenceA

  @Option(help: "The dub's sentence (the ground truth's mouth follows it).")
  var sentenceB = ClipConfiguration.defaultSentenceB

  @Option(help: "Frame width in pixels.")
  var width = 256

  @Option(help: "Frame height in pixels.")
  var height = 256

  @Option(help: "Frames per second.")
  var fps = 25.0

  @Option(help: "Seeds the speaker, the head motion and the blinks.")
  var seed: UInt64 = 1

  @Option(help: "The speaker's emotion (\(Emotion.allCases.map(\.rawValue).joined(separator: ", "))).")
  var emotion: Emotion = .neutral

  @Option(help: "The dub's emotion (voice and the ground truth's brows and mouth corners); default: --emotion.")
  var dubEmotion: Emotion?

  @Option(help: "Speaking rate in words per minute, before the emotion's factor (espeak-ng: 80…450).")
  var rate = 160

  @Option(help: "espeak-ng voice (en-us, en, en+f3, ...).")
  var voice = "en-us"

  @Option(help: "Head size: pixels per face unit over the frame's shorter side (0.24: the face fills about 60 % of the height).")
  var headScale: Float = 0.24

  @Option(help: "Head motion: 0 still, 1 the default sway.")
  var motion: Float = 1

  @Flag(help: "Also write preview.bmp: eight frames spread over the clip, the original above the ground truth.")
  var preview = false

  func validate() throws {
    if width < 32 || height < 32 || width > 4096 || height > 4096 { throw ValidationError("--width and --height must be 32…4096.") }
    if fps <= 0 || fps > 120 { throw ValidationError("--fps must be in (0, 120].") }
    if !(80...450).contains(rate) { throw ValidationError("--rate must be 80…450 words per minute.") }
    if !(0.05...1).contains(headScale) { throw ValidationError("--head-scale must be in 0.05…1.") }
    if motion < 0 { throw ValidationError("--motion must not be negative.") }
  }

  func run() throws {
    let clip = try TalkingClip.make(ClipConfiguration(
      sentenceA: sentenceA, sentenceB: sentenceB, width: width, height: height, fps: fps, seed: seed, emotion: emotion,
      dubEmotion: dubEmotion, wordsPerMinute: rate, voice: voice, headScale: headScale, motion: motion))
    var bar = ProgressBar(title: "demo-world clip", total: 2 * clip.frameCount)
    let files = try clip.write(to: URL(fileURLWithPath: output)) { done, total in bar.update(done, note: "\(done)/\(total) frames") }
    print(String(format: "%d frames at %g fps (%.2f s): A %.2f s, %d phonemes; B %.2f s, %d phonemes",
                 clip.frameCount, fps, Double(clip.frameCount) / fps, clip.speechA.duration, clip.speechA.phonemes.count,
                 clip.speechB.duration, clip.speechB.phonemes.count))
    for url in [files.clip, files.dub, files.truth, files.clipLandmarks, files.truthLandmarks, files.description] {
      print("wrote \(url.path)")
    }
    if preview {
      let url = URL(fileURLWithPath: output).appendingPathComponent("preview.bmp")
      try EditReportPage.bmp(Self.preview(clip)).write(to: url)
      print("wrote \(url.path)")
    }
  }

  /// Eight frames spread over the clip: the original on top, the ground truth below.
  static func preview(_ clip: TalkingClip) -> RGBImage {
    let c = clip.configuration, columns = min(8, clip.frameCount)
    var renderer = ProceduralFaceRenderer(width: c.width, height: c.height)
    let width = columns * c.width, height = 2 * c.height
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for k in 0..<columns {
      let frame = k * (clip.frameCount - 1) / max(1, columns - 1)
      for (row, track) in [TalkingClip.Track.original, .truth].enumerated() {
        let image = renderer.render(clip.face(frame, track)).image
        for y in 0..<c.height {
          let dst = ((row * c.height + y) * width + k * c.width) * 3
          pixels.replaceSubrange(dst..<(dst + c.width * 3), with: image.pixels[(y * c.width * 3)..<((y + 1) * c.width * 3)])
        }
      }
    }
    return RGBImage(width: width, height: height, pixels: pixels)
  }
}

/// `redub tools demo-world faces --output DIR`: random faces, their landmarks and masks.
struct DemoWorldFacesTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "faces",
    abstract: "Render random faces (a seeded sample) to a safetensors batch and a contact sheet.",
    discussion: """
      Writes faces.safetensors (images [N, 3, S, S] in 0…1, landmarks [N, 68, 2] in pixels, \
      masks [N, S, S] with BiSeNet's class numbers) and sheet.bmp (the faces, their landmarks as \
      dots, and the masks in false colour).
      """)

  @OptionGroup var runtime: RuntimeOptions

  @Option(help: ArgumentHelp("Folder to write into (created if missing).", valueName: "dir"))
  var output: String

  @Option(help: "How many faces.")
  var count = 16

  @Option(help: "Image side in pixels (64…256 are the sizes the world is made for).")
  var size = 128

  @Option(help: "Seed of the face sampler.")
  var seed: UInt64 = 0

  func validate() throws {
    if count < 1 || count > 10_000 { throw ValidationError("--count must be 1…10000.") }
    if size < 16 || size > 1024 { throw ValidationError("--size must be 16…1024.") }
  }

  func run() throws {
    runtime.apply()
    var sampler = FaceSampler(seed: seed)
    let batch = FaceBatch.make(count: count, width: size, height: size, sampler: &sampler, threads: Runtime.threads)
    let folder = URL(fileURLWithPath: output)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try SafeTensors.write(["images": batch.images, "landmarks": batch.landmarks, "masks": batch.masks],
                          metadata: ["seed": String(seed), "format": "redub.demo-world.faces.v1"],
                          to: folder.appendingPathComponent("faces.safetensors"))
    let sheet = Self.sheet(batch, size: size)
    try EditReportPage.bmp(sheet).write(to: folder.appendingPathComponent("sheet.bmp"))
    print("wrote \(count) faces of \(size)×\(size) to \(folder.appendingPathComponent("faces.safetensors").path) and sheet.bmp")
  }

  /// Rows of (face with landmark dots, mask in false colour), up to 8 pairs per row.
  static func sheet(_ batch: FaceBatch, size: Int) -> RGBImage {
    let n = batch.parameters.count, perRow = min(n, 4), rows = (n + perRow - 1) / perRow
    let width = perRow * 2 * size, height = rows * size, plane = size * size
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    let images = batch.images.scalars, masks = batch.masks.scalars, points = batch.landmarks.scalars
    let palette: [SIMD3<UInt8>] = (0..<19).map { (k: Int) -> SIMD3<UInt8> in
      if k == 0 { return SIMD3<UInt8>(0, 0, 0) }
      let r = UInt8((k * 97) % 256), g = UInt8((k * 57 + 80) % 256), b = UInt8((k * 151 + 30) % 256)
      return SIMD3<UInt8>(r, g, b)
    }
    for i in 0..<n {
      let ox = (i % perRow) * 2 * size, oy = (i / perRow) * size
      for y in 0..<size {
        for x in 0..<size {
          let o = ((oy + y) * width + ox + x) * 3, m = ((oy + y) * width + ox + size + x) * 3
          for c in 0..<3 { pixels[o + c] = UInt8(max(0, min(255, images[(i * 3 + c) * plane + y * size + x] * 255))) }
          let color = palette[min(18, Int(masks[i * plane + y * size + x]))]
          pixels[m] = color.x; pixels[m + 1] = color.y; pixels[m + 2] = color.z
        }
      }
      for k in 0..<68 {
        let x = Int(points[(i * 68 + k) * 2].rounded()), y = Int(points[(i * 68 + k) * 2 + 1].rounded())
        guard (0..<size).contains(x), (0..<size).contains(y) else { continue }
        let o = ((oy + y) * width + ox + x) * 3
        pixels[o] = 0; pixels[o + 1] = 255; pixels[o + 2] = 0
      }
    }
    return RGBImage(width: width, height: height, pixels: pixels)
  }
}

/// `redub tools demo-world speak TEXT`: espeak-ng's audio and phonemes, and the mouth track.
struct DemoWorldSpeakTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "speak",
    abstract: "Speak a sentence with espeak-ng: print its phonemes, visemes and per-frame mouth; optionally write the audio.",
    discussion: "One line per phoneme (start ms, name, visemes), then one line per video frame (open, width, rounding).")

  @Argument(help: "The sentence.")
  var text: String

  @Option(help: ArgumentHelp("Write the speech here (.wav, .flac, .m4a).", valueName: "file"))
  var output: String?

  @Option(help: "The emotion (voice prosody; the mouth track is the same).")
  var emotion: Emotion = .neutral

  @Option(help: "Speaking rate in words per minute, before the emotion's factor.")
  var rate = 160

  @Option(help: "espeak-ng voice.")
  var voice = "en-us"

  @Option(help: "Frames per second of the mouth track.")
  var fps = 25.0

  @Flag(help: "Print JSON (phonemes and frames) instead of text.")
  var json = false

  func validate() throws {
    if !(80...450).contains(rate) { throw ValidationError("--rate must be 80…450 words per minute.") }
    if fps <= 0 || fps > 120 { throw ValidationError("--fps must be in (0, 120].") }
  }

  func run() throws {
    let speech = try SpeechSynthesizer.speak(text, voice: emotion.voice(voice, wordsPerMinute: rate))
    let frames = Int((speech.duration * fps).rounded(.up))
    let mouth = VisemeTrack().frames(speech.phonemes, frames: frames, fps: fps)
    if let output { try AudioWriter.write(AudioBuffer(samples: speech.samples, sampleRate: speech.sampleRate), to: output) }
    if json {
      let object: [String: Any] = [
        "text": text, "seconds": speech.duration, "sample_rate": speech.sampleRate,
        "phonemes": speech.phonemes.map { ["name": $0.name, "start": $0.start, "end": $0.end, "visemes": Viseme.of($0.name).map(\.rawValue)] },
        "frames": mouth.map { ["open": $0.open, "width": $0.width, "rounding": $0.rounding] },
      ]
      print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
      return
    }
    print(String(format: "%.3f s at %d Hz, %d phonemes", speech.duration, speech.sampleRate, speech.phonemes.count))
    for p in speech.phonemes {
      print(String(format: "%6.0f ms  ", p.start * 1000) + p.name.padding(toLength: 5, withPad: " ", startingAt: 0) + " "
            + Viseme.of(p.name).map(\.rawValue).joined(separator: " → "))
    }
    for (f, m) in mouth.enumerated() {
      print(String(format: "frame %4d  open %.2f  width %+.2f  rounding %.2f", f, m.open, m.width, m.rounding))
    }
    if let output { print("wrote \(output)") }
  }
}

/// `redub tools demo-world fan-accuracy FAN`: a FAN checkpoint's landmark error on held-out
/// demo-world faces.
struct DemoWorldFANAccuracyTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fan-accuracy",
    abstract: "Measure a FAN checkpoint's landmark error on held-out demo-world faces.",
    discussion: """
      Renders faces the training never sees and decodes the FAN's heatmaps on two crops, the \
      aligned face crop and face-alignment's crop around the face box, sub-pixel (as redub reads \
      them) and with face-alignment's quarter-pixel step: the mean distance to the drawn \
      landmarks in 256² frame pixels over all 68 points and over the mouth, with the mouth's mean \
      offset (which two clips measured the same way cancel) and the error without it.
      """)

  @Argument(help: ArgumentHelp("The FAN checkpoint (safetensors).", valueName: "fan.safetensors"))
  var fan: String

  @Option(help: "Held-out faces.")
  var faces = 100

  func validate() throws {
    if faces < 1 { throw ValidationError("--faces must be at least 1.") }
  }

  func run() throws {
    guard FileManager.default.fileExists(atPath: fan) else { throw ValidationError("the FAN checkpoint \(fan) does not exist.") }
    Self.report(try FAN(contentsOf: URL(fileURLWithPath: fan)), faces: faces)
  }

  static func report(_ fan: FAN, faces: Int) {
    let start = Date()
    for (name, refinement) in [("sub-pixel", FANLandmarks.Refinement.subpixel), ("quarter-pixel", .quarterPixel)] {
      let e = DemoWorldTraining.evaluateFAN(fan, faces: faces, refinement: refinement)
      print("held-out aligned crops, \(name): \(e.aligned)")
      print("held-out box crops, \(name):     \(e.box)")
    }
    print(String(format: "measured in %.0f s", Date().timeIntervalSince(start)))
  }
}
