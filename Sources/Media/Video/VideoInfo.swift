/// What a video stream holds: its size, codec, rate, timing and frame count.
public struct VideoInfo: Sendable, Equatable {
  /// The file it describes.
  public let path: String
  /// The container format ("mov,mp4,m4a,3gp,3g2,mj2").
  public let container: String
  /// The codec ("h264").
  public let codec: String
  /// The decoder's pixel format ("yuv420p").
  public let pixelFormat: String
  /// The coded frame size, before any rotation.
  public let width: Int
  public let height: Int
  /// Clockwise degrees (0, 90, 180 or 270) to turn a coded frame to show it upright, from the
  /// stream's display matrix.
  public let rotation: Int
  /// The average frame rate (frames ÷ duration for variable-rate clips).
  public let frameRate: Rational
  /// The stream's time base: the unit of every timestamp.
  public let timeBase: Rational
  /// The exact number of frames, counted from the stream's packets.
  public let frameCount: Int
  /// The presentation time of the first frame, in seconds.
  public let startTime: Double
  /// From the first frame's start to the last frame's end, in seconds.
  public let duration: Double
  /// True when frame durations differ (timestamps, not the frame rate, tell each frame's time).
  public let isVariableFrameRate: Bool
  /// The stream's bit rate in bits per second, when the container says.
  public let bitRate: Int?

  /// The size of a frame shown upright (width and height swap for 90° and 270°).
  public var displayWidth: Int { rotation % 180 == 0 ? width : height }
  public var displayHeight: Int { rotation % 180 == 0 ? height : width }
}
