/// How a `VideoWriter` encodes.
public struct VideoEncoderSettings: Sendable, Equatable {
  /// What to do with an odd width or height, which 4:2:0 chroma cannot hold.
  public enum OddSizePolicy: Sendable, Equatable {
    /// Add one column (row) repeating the last one: a 641×481 frame is stored as 642×482.
    case pad
    /// Throw `MediaError.invalidDimensions`.
    case reject
  }

  /// The encoder's name; nil picks libx264 when the build has it, else FFmpeg's own mpeg4.
  public var codec: String?
  /// Constant rate factor (libx264: 0 lossless … 51 worst; 18 is visually near-lossless). For
  /// the mpeg4 fallback it maps to a fixed quantizer (crf / 4, at least 2).
  public var crf: Int
  /// libx264's speed preset ("ultrafast" … "veryslow"); slower gives smaller files at one CRF.
  public var preset: String
  /// The encoded pixel format.
  public var pixelFormat: String
  public var oddSize: OddSizePolicy
  /// Put the MP4 index (moov) first so players start before the download ends; costs a second
  /// pass over the file in `finish()`.
  public var fastStart: Bool
  /// Encoder threads (nil: `Runtime.threads`).
  public var threads: Int?
  /// Frames between keyframes (nil: the encoder's default, 250 for libx264).
  public var keyframeInterval: Int?

  public init(codec: String? = nil, crf: Int = 18, preset: String = "veryfast", pixelFormat: String = "yuv420p",
              oddSize: OddSizePolicy = .pad, fastStart: Bool = true, threads: Int? = nil, keyframeInterval: Int? = nil) {
    self.codec = codec
    self.crf = crf
    self.preset = preset
    self.pixelFormat = pixelFormat
    self.oddSize = oddSize
    self.fastStart = fastStart
    self.threads = threads
    self.keyframeInterval = keyframeInterval
  }
}
