import CFFmpeg
import CFFmpegShim

/// Every packet of one video stream, read once without decoding: exact frame count, every
/// presentation timestamp, and the keyframes to seek to. Costs one pass over the file's bytes
/// and 8–16 bytes per frame.
struct PacketIndex {
  /// Presentation timestamps in presentation order (one per frame).
  var timestamps: [Int64] = []
  /// Keyframes in decode order: their presentation and decode timestamps.
  var keyframes: [(pts: Int64, dts: Int64)] = []
  /// Duration of the last frame in presentation order (time base ticks), or 0.
  var lastDuration: Int64 = 0
  /// Packets counted, including ones the container marks as discarded (edit lists).
  var packetCount = 0

  init(path: String, streamIndex: Int) throws {
    let input = try InputFile(path: path)
    input.discardAllStreams(except: streamIndex)
    let stream = input.stream(streamIndex)
    let packet = PacketBox()
    let noPTS = redub_av_nopts_value()
    var entries: [(pts: Int64, duration: Int64)] = []
    var missingTimestamps = false
    while true {
      let result = av_read_frame(input.context, packet.packet)
      if result == FFmpegError.endOfFileCode { break }
      if result < 0 {
        let announced = Int(stream.pointee.nb_frames)
        if announced > packetCount {
          throw MediaError.truncated(path: path, expectedFrames: announced, readableFrames: packetCount)
        }
        throw MediaError.readFailed(path: path, FFmpegError(code: result, operation: "av_read_frame"))
      }
      defer { av_packet_unref(packet.packet) }
      let p = packet.packet.pointee
      guard Int(p.stream_index) == streamIndex else { continue }
      packetCount += 1
      if p.flags & AV_PKT_FLAG_DISCARD != 0 { continue }
      var pts = p.pts
      if pts == noPTS { pts = p.dts }
      if pts == noPTS { missingTimestamps = true }
      entries.append((pts, p.duration))
      if p.flags & AV_PKT_FLAG_KEY != 0 { keyframes.append((pts, p.dts == noPTS ? pts : p.dts)) }
    }
    let announced = Int(stream.pointee.nb_frames)
    if announced > packetCount {
      throw MediaError.truncated(path: path, expectedFrames: announced, readableFrames: packetCount)
    }
    if missingTimestamps {
      // Elementary streams without timestamps: frames are evenly spaced in decode order.
      let rate = Rational(stream.pointee.avg_frame_rate).isValid ? Rational(stream.pointee.avg_frame_rate) : Rational(25, 1)
      let tick = rescale(1, from: rate.inverted, to: Rational(stream.pointee.time_base))
      entries = entries.indices.map { (Int64($0) * max(tick, 1), max(tick, 1)) }
      keyframes = []
    }
    entries.sort { $0.pts < $1.pts }
    timestamps = entries.map(\.pts)
    lastDuration = entries.last?.duration ?? 0
  }

  /// The frame whose timestamp is `pts`, or nil.
  func frameIndex(ofTimestamp pts: Int64) -> Int? {
    var lo = 0, hi = timestamps.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if timestamps[mid] < pts { lo = mid + 1 } else { hi = mid }
    }
    return lo < timestamps.count && timestamps[lo] == pts ? lo : nil
  }
}
