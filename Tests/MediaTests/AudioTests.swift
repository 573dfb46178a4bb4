import Foundation
@testable import Media
import XCTest

final class AudioTests: XCTestCase {
  /// Best normalized cross-correlation of `a` against `b` over lags within ±`maxLag`.
  func correlation(_ a: [Float], _ b: [Float], maxLag: Int = 300) -> Double {
    var best = -1.0
    let n = min(a.count, b.count) - maxLag
    for lag in stride(from: -maxLag, through: maxLag, by: 1) {
      var ab = 0.0, aa = 0.0, bb = 0.0
      for i in stride(from: maxLag, to: n, by: 5) {
        let x = Double(a[i]), y = Double(b[i + lag])
        ab += x * y; aa += x * x; bb += y * y
      }
      best = max(best, ab / max((aa * bb).squareRoot(), 1e-12))
    }
    return best
  }

  func testWavRoundTripIsExactTo16Bits() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("tone.wav")
    let samples = tone(seconds: 0.5, sampleRate: 16000)
    try AudioWriter.write(AudioBuffer(samples: samples, sampleRate: 16000), to: path)
    let reader = try AudioReader(path: path)
    XCTAssertEqual(reader.info.codec, "pcm_s16le")
    XCTAssertEqual(reader.info.sampleRate, 16000)
    XCTAssertEqual(reader.info.channels, 1)
    let loaded = try reader.readAll()
    XCTAssertEqual(loaded.frameCount, samples.count)
    let worst = zip(loaded.samples, samples).map { abs($0 - $1) }.max()!
    XCTAssertLessThanOrEqual(worst, 1.0 / 32767)
  }

  func testCompressedFormatsDecode() throws {
    let dir = TemporaryDirectory()
    let samples = tone(seconds: 1, sampleRate: 44100, frequency: 330)
    var formats = ["m4a", "flac"]
    if FFmpegLibraries.hasEncoder(named: "libmp3lame") { formats.append("mp3") }
    for ext in formats {
      let path = dir.path("tone.\(ext)")
      try AudioWriter.write(AudioBuffer(samples: samples, sampleRate: 44100), to: path)
      let audio = try AudioReader.load(path: path, sampleRate: 16000)
      XCTAssertEqual(audio.duration, 1, accuracy: 0.08, ext)
      let reference = tone(seconds: 1, sampleRate: 16000, frequency: 330)
      XCTAssertGreaterThan(correlation(audio.samples, reference, maxLag: 1200), 0.95, ext)
    }
  }

  func testResamplesAndMixesDownToMono() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("stereo.flac")
    // Left a 440 Hz tone, right silence: the mono mean is half the tone.
    let left = tone(seconds: 1, sampleRate: 44100)
    var stereo = [Float](repeating: 0, count: left.count * 2)
    for i in left.indices { stereo[2 * i] = left[i] }
    try AudioWriter.write(AudioBuffer(samples: stereo, sampleRate: 44100, channels: 2), to: path)
    let mono = try AudioReader.load(path: path, sampleRate: 16000)
    XCTAssertEqual(mono.sampleRate, 16000)
    XCTAssertEqual(mono.channels, 1)
    XCTAssertEqual(mono.duration, 1, accuracy: 0.01)
    let reference = tone(seconds: 1, sampleRate: 16000).map { $0 * 0.5 }
    XCTAssertGreaterThan(correlation(mono.samples, reference, maxLag: 50), 0.99)
    let rms = (mono.samples[2000..<14000].map { Double($0 * $0) }.reduce(0, +) / 12000).squareRoot()
    let expectedRMS = (reference[2000..<14000].map { Double($0 * $0) }.reduce(0, +) / 12000).squareRoot()
    XCTAssertEqual(rms, expectedRMS, accuracy: expectedRMS * 0.02)
    let both = try AudioReader(path: path, sampleRate: nil, channels: nil).readAll()
    XCTAssertEqual(both.channels, 2)
    XCTAssertEqual(both.sampleRate, 44100)
  }

  func testVideoWriterMuxesSamplesCutAtTheVideosEnd() throws {
    let dir = TemporaryDirectory()
    let path = dir.path("with-audio.mp4")
    let speech = tone(seconds: 1.6, sampleRate: 16000)
    try writeGradientClip(path: path, width: 64, height: 48, frames: 25,
                          audio: .samples(AudioBuffer(samples: speech, sampleRate: 16000)))
    let reader = try AudioReader(path: path)
    XCTAssertEqual(reader.info.codec, "aac")
    XCTAssertEqual(reader.info.sampleRate, 16000)
    let audio = try reader.readAll()
    XCTAssertEqual(audio.duration, 1.0, accuracy: 0.07, "audio is cut at the 1 s video's end")
    XCTAssertGreaterThan(correlation(audio.samples, speech), 0.9)
    XCTAssertEqual(try VideoReader(path: path).info.frameCount, 25)
  }

  func testVideoWriterCopiesOrEncodesAudioFromFiles() throws {
    let dir = TemporaryDirectory()
    let m4a = dir.path("dub.m4a"), wav = dir.path("dub.wav")
    let speech = tone(seconds: 2, sampleRate: 48000, frequency: 300)
    try AudioWriter.write(AudioBuffer(samples: speech, sampleRate: 48000), to: m4a)
    try AudioWriter.write(AudioBuffer(samples: speech, sampleRate: 48000), to: wav)
    for (source, name) in [(m4a, "copied.mp4"), (wav, "encoded.mp4")] {
      let path = dir.path(name)
      try writeGradientClip(path: path, width: 64, height: 48, frames: 30, audio: .file(source))
      let reader = try AudioReader(path: path)
      XCTAssertEqual(reader.info.codec, "aac", name)
      let audio = try reader.readAll()
      XCTAssertEqual(audio.duration, 1.2, accuracy: 0.07, name)
      let reference = try AudioReader.load(path: source, sampleRate: 48000).samples
      XCTAssertGreaterThan(correlation(audio.samples, reference), 0.9, name)
    }
  }

  func testRemuxReplacesTheAudio() throws {
    let dir = TemporaryDirectory()
    let clip = dir.path("clip.mp4"), dub = dir.path("dub.wav"), out = dir.path("dubbed.mp4")
    let original = try writeGradientClip(path: clip, width: 96, height: 64, frames: 20, frameRate: Rational(30000, 1001),
                                          audio: .samples(AudioBuffer(samples: tone(seconds: 1, sampleRate: 16000, frequency: 200), sampleRate: 16000)))
    let speech = tone(seconds: 1, sampleRate: 22050, frequency: 660)
    try AudioWriter.write(AudioBuffer(samples: speech, sampleRate: 22050), to: dub)
    var progress: [Int] = []
    let summary = try VideoRemuxer.remux(video: clip, audio: .file(dub), output: out, progress: { done, total in
      XCTAssertEqual(total, 20)
      progress.append(done)
    })
    XCTAssertEqual(summary.frames, 20)
    XCTAssertEqual(progress, Array(1...20))
    let reader = try VideoReader(path: out)
    XCTAssertEqual(reader.info.frameRate, Rational(30000, 1001))
    XCTAssertEqual(reader.info.frameCount, 20)
    var i = 0
    while let frame = try reader.nextFrame() {
      XCTAssertEqual(frame.time, Double(i) * 1001 / 30000, accuracy: 1e-3)
      XCTAssertGreaterThan(frame.image.psnr(against: original[i]), 33)
      i += 1
    }
    let audio = try AudioReader.load(path: out, sampleRate: 22050)
    XCTAssertGreaterThan(correlation(audio.samples, speech), 0.9, "the new audio replaced the old")
  }
}
