import DemoWorld
import Foundation
import XCTest

final class SpeechTests: XCTestCase {
  /// espeak-ng's phoneme events cover the audio in order.
  func testPhonemeEventsSpanTheAudio() throws {
    let u = try SpeechSynthesizer.speak("Bob bought a map. We see you too!")
    XCTAssertEqual(u.sampleRate, 22_050)
    XCTAssertGreaterThan(u.duration, 1)
    XCTAssertGreaterThan(u.phonemes.count, 15)
    XCTAssertEqual(u.events.count, u.phonemes.count)
    let rms = (u.samples.reduce(0) { $0 + $1 * $1 } / Float(u.samples.count)).squareRoot()
    XCTAssertGreaterThan(rms, 0.01)
    XCTAssertLessThan(u.phonemes[0].start, 0.1)
    XCTAssertEqual(u.phonemes.last!.end, u.duration, accuracy: 1e-9)
    for (a, b) in zip(u.events, u.events.dropFirst()) { XCTAssertLessThanOrEqual(a.milliseconds, b.milliseconds) }
    for (a, b) in zip(u.phonemes, u.phonemes.dropFirst()) { XCTAssertEqual(a.end, b.start) }
    // The speech's last word ends near the end: phonemes reach at least 80 % into the audio.
    let lastSpoken = u.phonemes.last { !$0.name.hasPrefix("_") }!
    XCTAssertGreaterThan(lastSpoken.start, 0.8 * u.duration - 0.3)
    XCTAssertEqual(u.phonemes.map(\.name).prefix(3), ["b", "0", "b"])
  }

  func testSpeakingRateChangesTheLength() throws {
    let slow = try SpeechSynthesizer.speak("Maybe Bob can buy a blue map.", voice: SpeechVoice(rate: 120))
    let fast = try SpeechSynthesizer.speak("Maybe Bob can buy a blue map.", voice: SpeechVoice(rate: 260))
    XCTAssertGreaterThan(slow.duration, 1.5 * fast.duration)
    XCTAssertEqual(slow.phonemes.map(\.name), fast.phonemes.map(\.name))
    let sad = Emotion.sad.voice(wordsPerMinute: 160), happy = Emotion.happy.voice(wordsPerMinute: 160)
    XCTAssertLessThan(sad.rate, happy.rate)
    XCTAssertThrowsError(try SpeechSynthesizer.speak("hello", voice: SpeechVoice(name: "no-such-voice")))
  }

  /// The mouth opens on vowels and shuts on p, b, m.
  func testVisemeTrackOpensOnVowelsAndClosesOnBilabials() throws {
    let u = try SpeechSynthesizer.speak("Bob bought a map, maybe Papa Mom bumped a bomb.")
    let track = VisemeTrack()
    var bilabials = 0, openVowels = 0
    for (i, p) in u.phonemes.enumerated() {
      let mouth = track.mouth(at: (p.start + p.end) / 2, phonemes: u.phonemes)
      let visemes = Viseme.of(p.name)
      if visemes == [.bilabial] {
        bilabials += 1
        XCTAssertLessThan(mouth.open, 0.15, "\(p.name) at \(p.start) s (phoneme \(i))")
      } else if visemes.first == .openVowel || visemes.first == .openBack, p.duration > 0.05 {
        openVowels += 1
        XCTAssertGreaterThan(mouth.open, 0.45, "\(p.name) at \(p.start) s (phoneme \(i))")
      }
    }
    XCTAssertGreaterThanOrEqual(bilabials, 10)
    XCTAssertGreaterThanOrEqual(openVowels, 6)
    // Per video frame: the frames at bilabials are near-closed, the track is smooth and bounded.
    let fps = 25.0, frames = Int((u.duration * fps).rounded(.up))
    let shapes = track.frames(u.phonemes, frames: frames, fps: fps)
    XCTAssertEqual(shapes.count, frames)
    XCTAssertGreaterThan(shapes.map(\.open).max()!, 0.6)
    for p in u.phonemes where Viseme.of(p.name) == [.bilabial] && p.duration >= 0.06 {
      let f = Int(((p.start + p.end) / 2 * fps).rounded())
      XCTAssertLessThan(shapes[f].open, 0.3, "frame \(f) at \(p.name)")
    }
    for s in shapes {
      XCTAssert((0...1).contains(s.open) && (-1...1).contains(s.width) && (0...1).contains(s.rounding))
    }
    XCTAssertEqual(shapes.first!.open, 0, accuracy: 0.15)
  }

  func testVisemeTable() {
    XCTAssertEqual(Viseme.of("m"), [.bilabial])
    XCTAssertEqual(Viseme.of("aI"), [.openVowel, .closeFront])
    XCTAssertEqual(Viseme.of("u:"), [.closeBack])
    XCTAssertEqual(Viseme.of("_:"), [.rest])
    XCTAssertEqual(Viseme.of("zz"), [.alveolar])
    XCTAssertGreaterThan(Viseme.closeBack.target.rounding, 0.9)
    XCTAssertGreaterThan(Viseme.closeFront.target.width, 0.5)
  }
}

/// The audio-to-landmark corpus: espeak-ng speech whose landmarks follow its phonemes.
final class SpeechCorpusTests: XCTestCase {
  func testClipsAreDeterministicAndTheMouthMovesWithTheSpeech() throws {
    let a = try SpeechCorpus.clip(3, seed: 5), b = try SpeechCorpus.clip(3, seed: 5)
    // The text, speaker and timing repeat; espeak-ng's samples themselves can differ slightly
    // from one call to the next, so the corpus is deterministic in what is said, not bit for bit.
    XCTAssertEqual(a.text, b.text)
    XCTAssertEqual(a.emotion, b.emotion)
    XCTAssertEqual(a.speaker, b.speaker)
    XCTAssertEqual(a.landmarks.count, b.landmarks.count)
    XCTAssertEqual(a.landmarks.count, Int((Double(a.audio.samples.count) / Double(a.audio.sampleRate) * SpeechCorpus.fps).rounded(.up)))
    let opening = a.landmarks.map { $0[66].y - $0[62].y }
    XCTAssertGreaterThan(opening.max()! - opening.min()!, 3, "the inner lips should open and close: \(opening)")
    XCTAssertNotEqual(try SpeechCorpus.clip(4, seed: 5).text, a.text)
  }

  func testTheCorpusFolderIsWhatTrainingReads() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("corpus-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: folder) }
    try SpeechCorpus.write(count: 3, to: folder, seed: 1, validationEvery: 3)
    for (i, split) in ["train", "train", "validation"].enumerated() {
      let dir = folder.appendingPathComponent(String(format: "clip%04d", i))
      let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("clip.json"))) as? [String: String])
      XCTAssertEqual(json["split"], split)
      XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("audio.wav").path))
      XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("landmarks.safetensors").path))
    }
  }
}
