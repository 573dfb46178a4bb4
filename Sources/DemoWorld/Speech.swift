import CEspeakNG
import Foundation

/// One phoneme of an utterance: espeak-ng's name for it (its own ASCII phoneme codes, e.g.
/// "b", "O:", "aI", "_:" for a pause) and where it sits in the audio.
public struct Phoneme: Sendable, Equatable, Codable {
  public var name: String
  /// Start and end in seconds from the start of the audio; `end` is the next phoneme's start
  /// (the audio's end for the last).
  public var start: Double
  public var end: Double

  public init(name: String, start: Double, end: Double) {
    self.name = name; self.start = start; self.end = end
  }

  public var duration: Double { end - start }
}

/// A sentence spoken by espeak-ng: mono PCM at espeak-ng's rate (22 050 Hz) and its phonemes.
public struct Utterance: Sendable {
  public var text: String
  public var samples: [Float]
  public var sampleRate: Int
  public var phonemes: [Phoneme]
  /// Each phoneme event as espeak-ng reported it: the name and `audio_position` in ms.
  public var events: [(name: String, milliseconds: Int)]

  public var duration: Double { Double(samples.count) / Double(sampleRate) }
}

/// How espeak-ng speaks: its voice name and prosody settings.
public struct SpeechVoice: Sendable, Equatable, Codable {
  /// An espeak-ng voice ("en-us", "en", "en+f3" for a variant).
  public var name: String
  /// Words per minute (espeak-ng's 80…450; 175 is its normal rate).
  public var rate: Int
  /// Base pitch 0…100 (50 normal).
  public var pitch: Int
  /// Pitch range 0…100 (0 monotone, 50 normal).
  public var range: Int
  /// Volume 0…200 (100 normal).
  public var volume: Int

  public init(name: String = "en-us", rate: Int = 175, pitch: Int = 50, range: Int = 50, volume: Int = 100) {
    self.name = name; self.rate = rate; self.pitch = pitch; self.range = range; self.volume = volume
  }
}

public enum SpeechError: Error, CustomStringConvertible {
  case initializationFailed(code: Int32)
  case voiceNotFound(name: String, code: Int32)
  case parameterRejected(name: String, value: Int, code: Int32)
  case synthesisFailed(text: String, code: Int32)
  case noAudio(text: String)

  public var description: String {
    switch self {
    case .initializationFailed(let code):
      "espeak-ng failed to initialize (code \(code)): is espeak-ng-data installed (apt-get install libespeak-ng-dev)?"
    case .voiceNotFound(let name, let code):
      "espeak-ng has no voice \"\(name)\" (code \(code)); list voices with `espeak-ng --voices` and pass one of them"
    case .parameterRejected(let name, let value, let code):
      "espeak-ng rejected \(name) = \(value) (code \(code)); rate takes 80…450, pitch and range 0…100, volume 0…200"
    case .synthesisFailed(let text, let code):
      "espeak-ng could not speak \"\(text.prefix(40))\" (code \(code))"
    case .noAudio(let text):
      "espeak-ng produced no audio for \"\(text.prefix(40))\"; give a sentence with words in it"
    }
  }
}

/// espeak-ng through its C library, synchronous output with phoneme events. The library keeps
/// global state, so calls are serialized by a lock; it is initialized once per process.
public enum SpeechSynthesizer {
  private static let lock = NSLock()
  nonisolated(unsafe) private static var sampleRate: Int32 = 0
  /// Filled by the callback during one `espeak_Synth` call (under `lock`).
  nonisolated(unsafe) private static var pcm: [Int16] = []
  nonisolated(unsafe) private static var collected: [(name: String, milliseconds: Int)] = []

  /// espeak-ng's output rate (initializing the library on first use).
  public static func outputRate() throws -> Int {
    lock.lock()
    defer { lock.unlock() }
    return Int(try initialize())
  }

  private static func initialize() throws -> Int32 {
    if sampleRate > 0 { return sampleRate }
    let options = Int32(espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_DONT_EXIT)
    let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nil, options)
    guard rate > 0 else { throw SpeechError.initializationFailed(code: rate) }
    espeak_SetSynthCallback { wav, count, events in
      if let wav, count > 0 { SpeechSynthesizer.pcm.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count))) }
      var event = events
      while let e = event, e.pointee.type != espeakEVENT_LIST_TERMINATED {
        if e.pointee.type == espeakEVENT_PHONEME {
          let name = withUnsafeBytes(of: e.pointee.id.string) { raw -> String in
            let bytes = raw.prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
          }
          SpeechSynthesizer.collected.append((name, Int(e.pointee.audio_position)))
        }
        event = e + 1
      }
      return 0
    }
    sampleRate = rate
    return rate
  }

  /// Speaks `text` with `voice`: the PCM samples (scaled to −1…1) and the phoneme events.
  public static func speak(_ text: String, voice: SpeechVoice = SpeechVoice()) throws -> Utterance {
    lock.lock()
    defer { lock.unlock() }
    let rate = try initialize()
    let code = espeak_SetVoiceByName(voice.name)
    guard code == EE_OK else { throw SpeechError.voiceNotFound(name: voice.name, code: code.rawValue) }
    for (parameter, name, value) in [(espeakRATE, "rate", voice.rate), (espeakPITCH, "pitch", voice.pitch),
                                     (espeakRANGE, "range", voice.range), (espeakVOLUME, "volume", voice.volume)] {
      let c = espeak_SetParameter(parameter, Int32(value), 0)
      guard c == EE_OK else { throw SpeechError.parameterRejected(name: name, value: value, code: c.rawValue) }
    }
    pcm = []
    collected = []
    let status = text.withCString { chars in
      espeak_Synth(chars, strlen(chars) + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil, nil)
    }
    guard status == EE_OK else { throw SpeechError.synthesisFailed(text: text, code: status.rawValue) }
    _ = espeak_Synchronize()
    guard !pcm.isEmpty else { throw SpeechError.noAudio(text: text) }
    let samples = pcm.map { Float($0) / 32768 }
    let duration = Double(samples.count) / Double(rate)
    let events = collected
    pcm = []
    collected = []
    var phonemes: [Phoneme] = []
    for (i, e) in events.enumerated() {
      let start = min(duration, Double(e.milliseconds) / 1000)
      let end = i + 1 < events.count ? min(duration, Double(events[i + 1].milliseconds) / 1000) : duration
      phonemes.append(Phoneme(name: e.name, start: start, end: max(start, end)))
    }
    return Utterance(text: text, samples: samples, sampleRate: Int(rate), phonemes: phonemes, events: events)
  }
}
