import CFFmpeg
import CFFmpegShim

/// A libswscale context converting pictures of one size and pixel format to another pixel
/// format of the same size; rebuilt when the source changes. Freed in `deinit`.
final class PixelConverter {
  struct Key: Equatable {
    var width: Int, height: Int
    var source: AVPixelFormat, destination: AVPixelFormat
    var colorspace: AVColorSpace, range: AVColorRange
    /// libswscale's SIMD path (chroma samples repeated, not interpolated) for YUV → RGB.
    var fast = false
  }

  private var context: OpaquePointer?
  private var key: Key?

  deinit { sws_freeContext(context) }

  /// FFmpeg's name for a pixel format ("yuv420p").
  static func name(_ format: AVPixelFormat) -> String {
    redub_pix_fmt_name(format.rawValue).map { String(cString: $0) } ?? "unknown(\(format.rawValue))"
  }

  /// The pixel format for a name, or nil.
  static func format(named name: String) -> AVPixelFormat? {
    let value = redub_pix_fmt_from_name(name)
    return value < 0 ? nil : AVPixelFormat(rawValue: value)
  }

  /// Whether libswscale can read this format (hardware surfaces and a few exotic layouts cannot).
  static func canRead(_ format: AVPixelFormat) -> Bool {
    redub_pix_fmt_is_hardware(format.rawValue) == 0 && sws_isSupportedInput(format) > 0
  }

  /// The colorspace to use for YUV↔RGB: the stream's when tagged, else BT.709 for HD and
  /// BT.601 for SD (what players assume for untagged video).
  static func effectiveColorspace(_ tagged: AVColorSpace, height: Int) -> Int32 {
    switch tagged {
    case AVCOL_SPC_BT709: SWS_CS_ITU709
    case AVCOL_SPC_FCC: SWS_CS_FCC
    case AVCOL_SPC_BT470BG, AVCOL_SPC_SMPTE170M: SWS_CS_ITU601
    case AVCOL_SPC_SMPTE240M: SWS_CS_SMPTE240M
    case AVCOL_SPC_BT2020_NCL, AVCOL_SPC_BT2020_CL: SWS_CS_BT2020
    default: height >= 720 ? SWS_CS_ITU709 : SWS_CS_ITU601
    }
  }

  /// Prepares the context for `key`; a YUV side uses `key.colorspace` and `key.range`, the RGB side is full range.
  func prepare(_ key: Key) -> Bool {
    if self.key == key, context != nil { return true }
    sws_freeContext(context)
    // RGB → YUV (encoding): libswscale's fast unscaled path, which averages chroma and measured as
    // good as its accurate path. YUV → RGB (other formats than 4:2:0, which YUV420Converter
    // handles): accurate rounding and full chroma interpolation.
    let flags = key.source == AV_PIX_FMT_RGB24 || key.fast ? SWS_BILINEAR
      : SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_FULL_CHR_H_INP
    context = sws_getContext(Int32(key.width), Int32(key.height), key.source,
                             Int32(key.width), Int32(key.height), key.destination, flags, nil, nil, nil)
    guard let context else { self.key = nil; return false }
    let coefficients = sws_getCoefficients(Self.effectiveColorspace(key.colorspace, height: key.height))
    let limited: Int32 = key.range == AVCOL_RANGE_JPEG ? 1 : 0
    let sourceIsRGB = key.source == AV_PIX_FMT_RGB24
    // sws_setColorspaceDetails(ctx, inverse table (source), source full range, table (destination), destination full range, ...)
    _ = sws_setColorspaceDetails(context, coefficients, sourceIsRGB ? 1 : limited, coefficients,
                                 sourceIsRGB ? limited : 1, 0, 1 << 16, 1 << 16)
    self.key = key
    return true
  }

  /// Converts a decoded frame to packed rgb24.
  func rgb(from frame: UnsafeMutablePointer<AVFrame>, into pixels: inout [UInt8]) {
    guard let context else { preconditionFailure("PixelConverter.prepare was not called") }
    let width = Int(frame.pointee.width), height = Int(frame.pointee.height)
    precondition(pixels.count == width * height * 3)
    withUnsafePointer(to: &frame.pointee.data) { dataTuple in
      withUnsafePointer(to: &frame.pointee.linesize) { linesizeTuple in
        dataTuple.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { src in
          linesizeTuple.withMemoryRebound(to: Int32.self, capacity: 8) { srcStride in
            pixels.withUnsafeMutableBufferPointer { out in
              var dst: [UnsafeMutablePointer<UInt8>?] = [out.baseAddress, nil, nil, nil]
              var dstStride: [Int32] = [Int32(width * 3), 0, 0, 0]
              _ = sws_scale(context, src, srcStride, 0, Int32(height), &dst, &dstStride)
            }
          }
        }
      }
    }
  }

  /// Converts packed rgb24 into a frame whose buffers are allocated in the destination format.
  func convert(rgb pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int, into frame: UnsafeMutablePointer<AVFrame>) {
    guard let context else { preconditionFailure("PixelConverter.prepare was not called") }
    var src: [UnsafePointer<UInt8>?] = [pixels.baseAddress, nil, nil, nil]
    var srcStride: [Int32] = [Int32(width * 3), 0, 0, 0]
    withUnsafeMutablePointer(to: &frame.pointee.data) { dataTuple in
      withUnsafeMutablePointer(to: &frame.pointee.linesize) { linesizeTuple in
        dataTuple.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { dst in
          linesizeTuple.withMemoryRebound(to: Int32.self, capacity: 8) { dstStride in
            _ = sws_scale(context, &src, &srcStride, 0, Int32(height), dst, dstStride)
          }
        }
      }
    }
  }
}
