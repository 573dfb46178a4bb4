import ArgumentParser
import Foundation
import Media

/// `redub tools probe FILE`: the streams of a media file, with exact frame counts.
struct ProbeTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "probe",
    abstract: "Show a media file's streams: codec, frames, frame rate, duration, audio.",
    discussion: "The frame count is exact: the video stream's packets are counted (no decoding).")

  @Argument(help: ArgumentHelp("A video or audio file FFmpeg reads.", valueName: "file"))
  var file: String

  @Flag(help: "Print one JSON object instead of text.")
  var json = false

  func run() throws {
    let probe = try MediaProbe(path: file)
    if json {
      var object: [String: Any] = ["file": probe.path, "container": probe.container]
      if let d = probe.duration { object["duration"] = d }
      if let b = probe.bitRate { object["bit_rate"] = b }
      object["streams"] = probe.streams.map { s -> [String: Any] in
        var o: [String: Any] = ["index": s.index, "type": s.kind, "codec": s.codec]
        if let d = s.duration { o["duration"] = d }
        return o
      }
      if let v = probe.video {
        object["video"] = [
          "codec": v.codec, "width": v.width, "height": v.height, "pixel_format": v.pixelFormat,
          "frames": v.frameCount, "fps": v.frameRate.doubleValue, "frame_rate": v.frameRate.description,
          "time_base": v.timeBase.description, "start": v.startTime, "duration": v.duration,
          "rotation": v.rotation, "variable_frame_rate": v.isVariableFrameRate,
        ] as [String: Any]
      }
      if let a = probe.audio {
        var o: [String: Any] = ["codec": a.codec, "sample_rate": a.sampleRate, "channels": a.channels]
        if let d = a.duration { o["duration"] = d }
        object["audio"] = o
      }
      let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
      print(String(decoding: data, as: UTF8.self))
      return
    }
    print("file:      \(probe.path)")
    var container = "container: \(probe.container)"
    if let d = probe.duration { container += String(format: ", %.3f s", d) }
    if let b = probe.bitRate { container += String(format: ", %.0f kb/s", Double(b) / 1000) }
    print(container)
    for s in probe.streams {
      print("stream \(s.index):  \(s.kind) \(s.codec)" + (s.duration.map { String(format: ", %.3f s", $0) } ?? ""))
    }
    if let v = probe.video {
      print("video:     \(v.codec) \(v.width)×\(v.height) \(v.pixelFormat)"
        + (v.rotation != 0 ? ", rotated \(v.rotation)° (shown \(v.displayWidth)×\(v.displayHeight))" : ""))
      print(String(format: "           %d frames, %.3f fps (%@)%@, time base %@, %.3f s from %.3f s",
                   v.frameCount, v.frameRate.doubleValue, v.frameRate.description,
                   v.isVariableFrameRate ? ", variable frame rate" : "", v.timeBase.description, v.duration, v.startTime))
    } else {
      print("video:     none")
    }
    if let a = probe.audio {
      print("audio:     \(a.codec) \(a.sampleRate) Hz, \(a.channels) channel\(a.channels == 1 ? "" : "s")"
        + (a.duration.map { String(format: ", %.3f s", $0) } ?? ""))
    } else {
      print("audio:     none")
    }
  }
}
