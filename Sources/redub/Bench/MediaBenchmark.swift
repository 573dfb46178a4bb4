import ArgumentParser
import Foundation
import Media
import Tensors

/// `redub bench media`: decode and encode speed at 1080p, face crop and paste-back at 1024²,
/// and resident memory while decoding (flat when frames stream).
struct MediaBenchmark: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "media",
    abstract: "Frames per second of video encode and decode at 1080p, and face crop/paste-back per frame at 1024².",
    discussion: """
      Encodes --frames synthetic frames (a moving textured gradient) with VideoWriter's defaults \
      (libx264, CRF 18, preset veryfast, yuv420p) into a temporary MP4, decodes them back to RGB with \
      VideoReader, then times FaceCrop.crop and PasteBack.paste on a 1080p frame. The decode rows \
      also report resident memory (VmRSS) after the first tenth of the frames and at the end: \
      streaming keeps them equal however long the clip (try --frames 1500, one minute at 25 fps).
      """)

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var options: BenchOptions

  @Option(help: "Frames in the test clip.")
  var frames = 250

  @Option(help: "Frame width.")
  var width = 1920

  @Option(help: "Frame height.")
  var height = 1080

  @Option(help: "Face crop side (the generator's resolution).")
  var cropSize = 1024

  @Option(help: "libx264 preset for the encode row.")
  var preset = "veryfast"

  @Option(help: ArgumentHelp("Keep the encoded clip here instead of a temporary file.", valueName: "file"))
  var keep: String?

  func validate() throws {
    if frames < 10 { throw ValidationError("--frames must be at least 10 (got \(frames)).") }
    if width < 64 || height < 64 { throw ValidationError("--width and --height must be at least 64.") }
    if cropSize < 16 { throw ValidationError("--crop-size must be at least 16.") }
  }

  func run() throws {
    runtime.apply()
    var report = BenchReport(columns: ["op", "size", "frames", "ms", "fps", "rss_mb", "rss_10pct"], json: options.json)
    let path = keep ?? FileManager.default.temporaryDirectory
      .appendingPathComponent("redub-bench-media-\(getpid()).mp4").path
    defer { if keep == nil { try? FileManager.default.removeItem(atPath: path) } }
    let size = "\(width)x\(height)"

    // Encode.
    let source = Self.texturedFrame(width: width, height: height)
    let writer = try VideoWriter(path: path, width: width, height: height, frameRate: Rational(25, 1),
                                 settings: VideoEncoderSettings(preset: preset))
    var bar = ProgressBar(title: "encode", total: frames)
    var encodeSeconds = 0.0
    for i in 0..<frames {
      let image = Self.animated(Self.shifted(source, by: i), frame: i)
      encodeSeconds += try Self.seconds { try writer.append(image) }
      if i % 25 == 0 { bar.update(i) }
    }
    encodeSeconds += try Self.seconds { try writer.finish() }
    bar.update(frames)
    let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    report.add(["op": "encode", "size": size, "frames": frames, "ms": encodeSeconds * 1e3 / Double(frames),
                "fps": Double(frames) / encodeSeconds, "rss_mb": Self.residentMB(),
                "note": "\(writer.codecName) crf 18 \(preset), \(bytes / 1024) KiB", "threads": Runtime.threads])

    // Decode to RGB.
    let reader = try VideoReader(path: path)
    var decoded = 0
    var rssEarly = 0.0
    var decodeSeconds = 0.0
    bar = ProgressBar(title: "decode", total: frames)
    while true {
      var frame: VideoFrame?
      decodeSeconds += try Self.seconds { frame = try reader.nextFrame() }
      guard frame != nil else { break }
      decoded += 1
      if decoded == max(1, frames / 10) { rssEarly = Self.residentMB() }
      if decoded % 25 == 0 { bar.update(decoded) }
    }
    bar.update(frames)
    report.add(["op": "decode", "size": size, "frames": decoded, "ms": decodeSeconds * 1e3 / Double(decoded),
                "fps": Double(decoded) / decodeSeconds, "rss_mb": Self.residentMB(),
                "note": String(format: "rss %.0f MB after %d frames", rssEarly, max(1, frames / 10)),
                "rss_10pct": rssEarly, "threads": Runtime.threads])

    // Decode with libswscale's fast chroma (repeated samples).
    let fast = try VideoReader(path: path, chroma: .nearest)
    var fastFrames = 0
    let fastSeconds = try Self.seconds { while try fast.nextFrame() != nil { fastFrames += 1 } }
    report.add(["op": "decode_nn", "size": size, "frames": fastFrames, "ms": fastSeconds * 1e3 / Double(fastFrames),
                "fps": Double(fastFrames) / fastSeconds, "rss_mb": Self.residentMB(), "note": "chroma: .nearest",
                "threads": Runtime.threads])

    // Decode to float tensors, as the networks take them.
    let tensors = try VideoReader(path: path)
    let tensorFrames = min(frames, 100)
    var tensorSeconds = 0.0
    for _ in 0..<tensorFrames {
      tensorSeconds += try Self.seconds { _ = try tensors.nextFrame()?.tensor() }
    }
    report.add(["op": "decode_f32", "size": size, "frames": tensorFrames, "ms": tensorSeconds * 1e3 / Double(tensorFrames),
                "fps": Double(tensorFrames) / tensorSeconds, "rss_mb": Self.residentMB(), "note": "[1,3,H,W] float32",
                "threads": Runtime.threads])

    // Face crop and paste-back on one frame: a face about 0.6 of the frame's height.
    let frame = Self.shifted(source, by: 7)
    let side = Double(min(width, height)) * 0.6
    let quad = FaceQuad(center: SIMD2(Double(width) / 2, Double(height) / 2),
                        x: SIMD2(side / 2 * cos(0.1), side / 2 * sin(0.1)), y: SIMD2(-side / 2 * sin(0.1), side / 2 * cos(0.1)))
    let crop = FaceCrop(quad: quad, size: cropSize)
    let paste = PasteBack(cropSize: cropSize)
    var cropped = crop.crop(frame)
    let cropTime = fastestTime(minTime: options.minTime) { cropped = crop.crop(frame) }
    var pasted = frame
    let pasteTime = fastestTime(minTime: options.minTime) { pasted = paste.paste(cropped, into: frame, crop: crop) }
    let psnr = pasted.psnr(against: frame)
    let crops = "\(cropSize)x\(cropSize)"
    report.add(["op": "crop", "size": crops, "frames": 1, "ms": cropTime * 1e3, "fps": 1 / cropTime,
                "rss_mb": Self.residentMB(), "note": "bilinear from \(size)", "threads": Runtime.threads])
    report.add(["op": "paste", "size": crops, "frames": 1, "ms": pasteTime * 1e3, "fps": 1 / pasteTime,
                "rss_mb": Self.residentMB(), "note": String(format: "identity PSNR %.1f dB", psnr), "threads": Runtime.threads])
  }

  static func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let d = ContinuousClock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
  }

  /// VmRSS in MB (0 where /proc is missing).
  static func residentMB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
      return Double(line.split(separator: " ").compactMap { Int($0) }.first ?? 0) / 1024
    }
    return 0
  }

  /// Smooth colour gradients under fine noise: content an encoder cannot skip.
  static func texturedFrame(width: Int, height: Int) -> RGBImage {
    var state: UInt32 = 12345
    return RGBImage(width: width, height: height) { x, y in
      state = state &* 1_664_525 &+ 1_013_904_223
      let noise = Double(state >> 28) - 7.5
      let fx = Double(x) / Double(width), fy = Double(y) / Double(height)
      let r = 128 + 90 * sin(6.3 * fx + 2 * fy) + noise
      let g = 128 + 90 * cos(4.1 * fy - fx) + noise
      let b = 128 + 80 * sin(3.0 * (fx + fy)) + noise
      return (UInt8(max(0, min(255, r))), UInt8(max(0, min(255, g))), UInt8(max(0, min(255, b))))
    }
  }

  /// A "face" in the middle whose pattern changes every frame (not a translation an encoder
  /// predicts for free): a disc of a third of the height with moving interfering waves.
  static func animated(_ image: RGBImage, frame i: Int) -> RGBImage {
    var out = image
    let w = image.width, h = image.height, r = h / 6, cx = w / 2, cy = h / 2
    let phase = Double(i)
    out.pixels.withUnsafeMutableBufferPointer { p in
      for y in max(0, cy - r)..<min(h, cy + r) {
        let dy = y - cy
        let wave = cos(0.04 * Double(y) - 0.2 * phase)
        for x in max(0, cx - r)..<min(w, cx + r) where (x - cx) * (x - cx) + dy * dy < r * r {
          let v = 40 * sin(0.05 * Double(x) + 0.3 * phase) * wave
          let k = 3 * (y * w + x)
          for c in 0..<3 { p[k + c] = UInt8(max(0, min(255, Double(p[k + c]) + v * (c == 1 ? 0.5 : 1)))) }
        }
      }
    }
    return out
  }

  /// The frame moved 4·i pixels right and 2·i down (wrapping round).
  static func shifted(_ image: RGBImage, by i: Int) -> RGBImage {
    let w = image.width, h = image.height
    let dx = (4 * i) % w, dy = (2 * i) % h
    var out = [UInt8](repeating: 0, count: image.pixels.count)
    image.pixels.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for y in 0..<h {
          let from = src.baseAddress! + ((y + h - dy) % h) * w * 3, to = dst.baseAddress! + y * w * 3
          (to + dx * 3).update(from: from, count: (w - dx) * 3)
          to.update(from: from + (w - dx) * 3, count: dx * 3)
        }
      }
    }
    return RGBImage(width: w, height: h, pixels: out)
  }
}
