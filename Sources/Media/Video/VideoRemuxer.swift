/// Decodes every frame of a video, re-encodes it, and muxes another audio track: the skeleton
/// of redub's last stage (where the frames are edited between decode and encode).
public enum VideoRemuxer {
  public struct Summary: Sendable, Equatable {
    public let frames: Int
    public let duration: Double
    public let width: Int
    public let height: Int
    public let videoCodec: String
  }

  /// Re-encodes `video` into `output` with `audio` beside it, keeping each frame's timestamp,
  /// the time base, the frame rate and the rotation metadata. `progress(done, total)` is called
  /// after each frame; `transform` may edit each frame on the way.
  @discardableResult
  public static func remux(video: String, audio: AudioTrack, output: String,
                           settings: VideoEncoderSettings = VideoEncoderSettings(),
                           transform: ((VideoFrame) throws -> RGBImage)? = nil,
                           progress: ((Int, Int) -> Void)? = nil) throws -> Summary {
    let reader = try VideoReader(path: video, autorotate: false)
    let info = reader.info
    let writer = try VideoWriter(path: output, width: info.width, height: info.height, frameRate: info.frameRate,
                                 timeBase: info.timeBase, settings: settings, audio: audio, rotation: info.rotation)
    var frames = 0
    while let frame = try reader.nextFrame() {
      try writer.append(try transform?(frame) ?? frame.image, pts: frame.pts)
      frames += 1
      progress?(frames, info.frameCount)
    }
    try writer.finish()
    return Summary(frames: frames, duration: info.duration, width: writer.encodedWidth, height: writer.encodedHeight,
                   videoCodec: writer.codecName)
  }
}
