/// Why a media file could not be read or written. Every case names the file and says what to do;
/// a failure inside FFmpeg keeps its `FFmpegError` (AVERROR code and message).
public enum MediaError: Error, CustomStringConvertible, Sendable, Equatable {
  /// The path does not exist or is not a readable file.
  case fileNotFound(path: String)
  /// FFmpeg could not recognize the file as media (a text file, an unknown container).
  case cannotOpen(path: String, FFmpegError)
  /// The file has no video stream (audio only, or not media at all).
  case noVideoStream(path: String)
  /// The file has no audio stream.
  case noAudioStream(path: String)
  /// The video stream holds no frame.
  case emptyVideo(path: String)
  /// The audio stream holds no sample.
  case emptyAudio(path: String)
  /// The file ends before all the frames its header announces.
  case truncated(path: String, expectedFrames: Int, readableFrames: Int)
  /// Reading the container failed part way (a damaged or truncated file).
  case readFailed(path: String, FFmpegError)
  /// The linked libavcodec has no decoder for the stream's codec.
  case decoderNotFound(path: String, codec: String)
  /// The linked libavcodec has no encoder by this name.
  case encoderNotFound(path: String, codec: String)
  /// Decoding a packet failed (corrupt data).
  case decodeFailed(path: String, FFmpegError)
  /// Encoding or muxing failed.
  case encodeFailed(path: String, FFmpegError)
  /// libswscale cannot convert from this pixel format, or the encoder cannot take it.
  case unsupportedPixelFormat(path: String, format: String, supported: [String])
  /// A frame size the encoder refuses (odd with `.reject`, zero, or too large).
  case invalidDimensions(path: String, width: Int, height: Int, reason: String)
  /// A frame appended to a writer has another size than the writer was opened with.
  case frameSizeMismatch(path: String, expected: (width: Int, height: Int), got: (width: Int, height: Int))
  /// A timestamp did not increase, or an argument was out of range.
  case invalidArgument(path: String, reason: String)
  /// A seek asked for a frame the clip does not have.
  case frameIndexOutOfRange(path: String, index: Int, frameCount: Int)
  /// The output file or its temporary file could not be created, written or renamed.
  case cannotWrite(path: String, reason: String)
  /// `append` or `finish` on a writer that already finished or failed.
  case writerClosed(path: String)

  /// The file the error is about.
  public var path: String {
    switch self {
    case .fileNotFound(let p), .cannotOpen(let p, _), .noVideoStream(let p), .noAudioStream(let p),
      .emptyVideo(let p), .emptyAudio(let p), .truncated(let p, _, _), .readFailed(let p, _),
      .decoderNotFound(let p, _), .encoderNotFound(let p, _), .decodeFailed(let p, _),
      .encodeFailed(let p, _), .unsupportedPixelFormat(let p, _, _), .invalidDimensions(let p, _, _, _),
      .frameSizeMismatch(let p, _, _), .invalidArgument(let p, _), .frameIndexOutOfRange(let p, _, _),
      .cannotWrite(let p, _), .writerClosed(let p):
      p
    }
  }

  public var description: String {
    switch self {
    case .fileNotFound(let path):
      "'\(path)': no such file; check the path"
    case .cannotOpen(let path, let error):
      "'\(path)' is not a media file FFmpeg can read (\(error.message)); "
        + "check that it is a complete video or audio file (mp4, mov, mkv, wav, mp3, aac, flac...)"
    case .noVideoStream(let path):
      "'\(path)' has no video stream; pass a video file (an audio-only file goes to --audio)"
    case .noAudioStream(let path):
      "'\(path)' has no audio stream; pass a file with sound (a wav, mp3, aac, flac, or a video with an audio track)"
    case .emptyVideo(let path):
      "'\(path)' has a video stream with no frames; the clip is empty, re-export it"
    case .emptyAudio(let path):
      "'\(path)' has an audio stream with no samples; the track is empty, re-export it"
    case .truncated(let path, let expected, let readable):
      "'\(path)' is truncated: its header announces \(expected) frames but only \(readable) can be read; "
        + "copy or download the file again"
    case .readFailed(let path, let error):
      "'\(path)': reading failed (\(error.message), AVERROR \(error.code)); the file is damaged or truncated, "
        + "copy or download it again"
    case .decoderNotFound(let path, let codec):
      "'\(path)': this FFmpeg build has no decoder for codec '\(codec)'; convert the file to H.264/AAC or "
        + "install a fuller FFmpeg (Debian's libavcodec-extra)"
    case .encoderNotFound(let path, let codec):
      "'\(path)': this FFmpeg build has no '\(codec)' encoder; choose another codec or install "
        + "Debian's libavcodec-extra"
    case .decodeFailed(let path, let error):
      "'\(path)': decoding failed (\(error.message), AVERROR \(error.code)); the stream is corrupt, re-export the file"
    case .encodeFailed(let path, let error):
      "'\(path)': encoding failed in \(error.description); check free disk space and the encoder settings"
    case .unsupportedPixelFormat(let path, let format, let supported):
      "'\(path)': pixel format '\(format)' is not supported"
        + (supported.isEmpty ? "; convert the video to yuv420p first"
          : "; use one of: " + supported.joined(separator: ", "))
    case .invalidDimensions(let path, let width, let height, let reason):
      "'\(path)': frame size \(width)×\(height) cannot be encoded: \(reason)"
    case .frameSizeMismatch(let path, let expected, let got):
      "'\(path)': a frame of \(got.width)×\(got.height) was appended to a writer opened for "
        + "\(expected.width)×\(expected.height); resize the frame or open another writer"
    case .invalidArgument(let path, let reason):
      "'\(path)': \(reason)"
    case .frameIndexOutOfRange(let path, let index, let count):
      "'\(path)': frame \(index) does not exist; the clip has \(count) frames (0...\(max(count - 1, 0)))"
    case .cannotWrite(let path, let reason):
      "cannot write '\(path)': \(reason); check that the directory exists and is writable, and the free disk space"
    case .writerClosed(let path):
      "'\(path)': the writer already finished or failed; open a new one"
    }
  }

  public static func == (lhs: MediaError, rhs: MediaError) -> Bool {
    lhs.description == rhs.description
  }
}
