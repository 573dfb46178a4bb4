import CFFmpeg

/// An AVFrame, freed in `deinit`.
final class FrameBox {
  let frame: UnsafeMutablePointer<AVFrame>

  init() {
    guard let frame = av_frame_alloc() else { fatalError("av_frame_alloc: out of memory") }
    self.frame = frame
  }

  deinit {
    var frame: UnsafeMutablePointer<AVFrame>? = frame
    av_frame_free(&frame)
  }
}

/// An AVPacket, freed in `deinit`.
final class PacketBox {
  let packet: UnsafeMutablePointer<AVPacket>

  init() {
    guard let packet = av_packet_alloc() else { fatalError("av_packet_alloc: out of memory") }
    self.packet = packet
  }

  deinit {
    var packet: UnsafeMutablePointer<AVPacket>? = packet
    av_packet_free(&packet)
  }
}
