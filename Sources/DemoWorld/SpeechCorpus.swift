import Foundation
import Media
import Tensors

/// The audio-to-landmark training corpus of the demo world: espeak-ng speaks random sentences
/// (words drawn from a fixed list) in varied voices, rates and emotions, and each frame's 68
/// landmarks follow the phonemes through the viseme track, with a speaker, head motion and
/// blinks per clip. Written in the folder layout `redub train audio2landmarks` reads.
public enum SpeechCorpus {
  /// Everyday words covering English's consonant and vowel classes (bilabials, rounded vowels,
  /// open vowels, fricatives), so every viseme appears often.
  public static let words: [String] = """
    a about after again all also always an and any apple are around ask at away baby back ball \
    be bed big bird blue boat book both bottle box boy bread bring brown but buy by call came can \
    car cat chair cheese child city cloud cold come could cup day did do does dog door down draw \
    each early eat egg eight even every eye face fall far farm fast father feet fish five floor \
    fly food foot for four free friend from fun garden girl give go good green grow had hand happy \
    has have he head hear help her here high hill his hold home horse hot house how I if in is it \
    jump just keep kind king know lamp late laugh leaf left light like little live long look loud \
    love made make man many map may me meet milk moon more morning mother mouth move much music \
    my name near never new next nice night no noon not now of off old on one open orange our out \
    over paper park people pick play please pool put queen quick rain read red ride right river \
    road room round run said sat saw say school sea see she ship shoe short should show sing sister \
    sit sleep slow small smile snow so some soon song stop street summer sun sure table take talk \
    tall tea tell ten thank that the then there they thing think this three time to today too tree \
    true two under up us very voice wait walk want warm was watch water way we well went were what \
    when where which while white who why will window winter with woman wood word work world would \
    yellow yes you young zoo
    """.split(separator: " ").map(String.init)

  /// A sentence of 5–11 words from `words`.
  public static func sentence(_ generator: inout SeededGenerator) -> String {
    let count = Int.random(in: 5...11, using: &generator)
    let text = (0..<count).map { _ in words.randomElement(using: &generator)! }.joined(separator: " ")
    return text.prefix(1).uppercased() + text.dropFirst() + "."
  }

  /// One clip: the audio and the landmarks of every frame.
  public struct Clip: Sendable {
    public var text: String
    public var emotion: Emotion
    public var speaker: String
    public var audio: AudioBuffer
    public var landmarks: [[SIMD2<Float>]]
  }

  public static let frameSize = 256
  public static let fps = 25.0

  /// Clip `index` of the corpus `seed` (its text, speaker, emotion and motion repeat for a seed;
  /// espeak-ng's samples may differ in the last bits): one of `speakers` speakers, a random
  /// emotion, 130–190 words per minute before the emotion's factor.
  public static func clip(_ index: Int, seed: UInt64, speakers: Int = 8) throws -> Clip {
    var g = SeededGenerator(seed: seed &+ UInt64(index) &* 7_919)
    let text = sentence(&g)
    let emotion = Emotion.allCases.randomElement(using: &g)!
    let speaker = index % max(speakers, 1)
    var people = FaceSampler(seed: seed &+ 1_000 &+ UInt64(speaker))
    let identity = people.identity()
    let voiceName = speaker % 2 == 0 ? "en-us" : "en"
    let utterance = try SpeechSynthesizer.speak(text, voice: emotion.voice(voiceName, wordsPerMinute: Int.random(in: 130...190, using: &g)))
    let frames = Int((utterance.duration * fps).rounded(.up))
    let motionSeed = seed &+ UInt64(index)
    let base = HeadPose(center: [0.5, 0.5], scale: Float.random(in: 0.22...0.3, using: &g))
    let poses = HeadMotion().poses(frames: frames, fps: fps, base: base, seed: motionSeed)
    let eyes = Blinks().openness(frames: frames, fps: fps, seed: motionSeed)
    let mouths = VisemeTrack().frames(utterance.phonemes, frames: frames, fps: fps)
    let landmarks = (0..<frames).map { f in
      let expression = emotion.apply(to: FaceExpression(eyeOpenLeft: eyes[f], eyeOpenRight: eyes[f], mouth: mouths[f]))
      return FaceGeometry(FaceParameters(identity: identity, pose: poses[f], expression: expression),
                          width: frameSize, height: frameSize).landmarks
    }
    return Clip(text: text, emotion: emotion, speaker: "s\(speaker)",
                audio: AudioBuffer(samples: utterance.samples, sampleRate: utterance.sampleRate), landmarks: landmarks)
  }

  /// Writes clips 0..<count as `clipNNNN/` folders (audio.wav, landmarks.safetensors,
  /// clip.json); every `validationEvery`-th clip is the validation split.
  public static func write(count: Int, to folder: URL, seed: UInt64, validationEvery: Int = 10,
                           progress: (Int, Int) -> Void = { _, _ in }) throws {
    for i in 0..<count {
      let clip = try clip(i, seed: seed)
      let dir = folder.appendingPathComponent(String(format: "clip%04d", i))
      try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
      try AudioWriter.write(clip.audio, to: dir.appendingPathComponent("audio.wav").path)
      try TalkingClip.writeLandmarks(clip.landmarks, to: dir.appendingPathComponent("landmarks.safetensors"),
                                     width: frameSize, height: frameSize, fps: fps)
      let description: [String: String] = [
        "audio": "audio.wav", "landmarks": "landmarks.safetensors", "emotion": clip.emotion.rawValue,
        "speaker": clip.speaker, "sentence": clip.text, "split": i % validationEvery == validationEvery - 1 ? "validation" : "train",
      ]
      try JSONSerialization.data(withJSONObject: description, options: [.sortedKeys]).write(to: dir.appendingPathComponent("clip.json"))
      progress(i + 1, count)
    }
  }
}
