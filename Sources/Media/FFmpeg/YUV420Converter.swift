import CFFmpeg
import Dispatch
import Tensors

/// 8-bit 4:2:0 YUV → packed RGB24 with bilinear chroma upsampling, split across threads by rows.
/// libswscale's fast path for this case repeats each chroma sample (blocky colour edges) and its
/// accurate path runs on one thread at a third of the speed; this one interpolates chroma as the
/// stream's chroma location says and keeps 1080p decoding well above 100 frames per second.
enum YUV420Converter {
  /// Whether `format` is one this converter handles.
  static func handles(_ format: AVPixelFormat) -> Bool { format == AV_PIX_FMT_YUV420P || format == AV_PIX_FMT_YUVJ420P }

  /// Converts `frame` into `pixels` (width · height · 3 bytes).
  static func convert(_ frame: UnsafeMutablePointer<AVFrame>, into pixels: inout [UInt8]) {
    let f = frame.pointee
    let width = Int(f.width), height = Int(f.height)
    let fullRange = f.color_range == AVCOL_RANGE_JPEG || f.format == AV_PIX_FMT_YUVJ420P.rawValue
    // Kr and Kb of the colour matrix.
    let (kr, kb): (Float, Float) = switch PixelConverter.effectiveColorspace(f.colorspace, height: height) {
    case SWS_CS_ITU709: (0.2126, 0.0722)
    case SWS_CS_BT2020: (0.2627, 0.0593)
    case SWS_CS_SMPTE240M: (0.212, 0.087)
    default: (0.299, 0.114)
    }
    let kg = 1 - kr - kb
    let yScale: Float = fullRange ? 1 : 255 / 219, yOffset = fullRange ? 0 : 16
    let cScale: Float = fullRange ? 1 : 255 / 224
    // Fixed point: luma × 2^16; chroma is interpolated at 16× its value, so its weights are × 2^12.
    let yWeight = Int((yScale * 65536).rounded())
    let crToR = Int((2 * (1 - kr) * cScale * 4096).rounded()), cbToB = Int((2 * (1 - kb) * cScale * 4096).rounded())
    let cbToG = Int((-2 * kb * (1 - kb) / kg * cScale * 4096).rounded())
    let crToG = Int((-2 * kr * (1 - kr) / kg * cScale * 4096).rounded())
    // Left-sited chroma (MPEG-2/H.264's default) sits on even columns; centred sits between two.
    let centred = f.chroma_location == AVCHROMA_LOC_CENTER
    let planes = Planes(y: UnsafePointer(f.data.0!), u: UnsafePointer(f.data.1!), v: UnsafePointer(f.data.2!))
    let strideY = Int(f.linesize.0), strideU = Int(f.linesize.1), strideV = Int(f.linesize.2)
    let chromaWidth = (width + 1) / 2, chromaHeight = (height + 1) / 2
    let threads = max(1, min(Runtime.threads, height / 64))
    let rowsPerChunk = (height + threads - 1) / threads
    pixels.withUnsafeMutableBufferPointer { out in
      let base = UncheckedPointer(out.baseAddress!)
      DispatchQueue.concurrentPerform(iterations: threads) { t in
        let rgb = base.pointer
        let planeY = planes.y, planeU = planes.u, planeV = planes.v
        // Vertically interpolated chroma rows at 4× (with one repeated sample past the end).
        let u = UnsafeMutablePointer<Int>.allocate(capacity: chromaWidth + 1)
        let v = UnsafeMutablePointer<Int>.allocate(capacity: chromaWidth + 1)
        defer { u.deallocate(); v.deallocate() }
        let c = Coefficients(yWeight: Int32(yWeight), yOffset: Int32(yOffset), crToR: Int32(crToR), cbToG: Int32(cbToG),
                             crToG: Int32(crToG), cbToB: Int32(cbToB))
        let cb = UnsafeMutablePointer<Int32>.allocate(capacity: 2 * chromaWidth)
        let cr = UnsafeMutablePointer<Int32>.allocate(capacity: 2 * chromaWidth)
        defer { cb.deallocate(); cr.deallocate() }
        for y in (t * rowsPerChunk)..<min(height, (t + 1) * rowsPerChunk) {
          // Vertical: chroma row j sits between luma rows 2j and 2j+1.
          let near = y / 2, far = y % 2 == 0 ? max(near - 1, 0) : min(near + 1, chromaHeight - 1)
          let un = planeU + near * strideU, uf = planeU + far * strideU
          let vn = planeV + near * strideV, vf = planeV + far * strideV
          for i in 0..<chromaWidth {
            u[i] = 3 * Int(un[i]) + Int(uf[i]) - 512
            v[i] = 3 * Int(vn[i]) + Int(vf[i]) - 512
          }
          u[chromaWidth] = u[chromaWidth - 1]
          v[chromaWidth] = v[chromaWidth - 1]
          let luma = planeY + y * strideY
          let row = rgb + y * width * 3
          // Horizontal: chroma at 16× for every pixel of the row, then one branch-free pass.
          if centred {
            for i in 0..<chromaWidth {
              let previous = i == 0 ? 0 : i - 1
              cb[2 * i] = Int32(3 * u[i] + u[previous]); cr[2 * i] = Int32(3 * v[i] + v[previous])
              cb[2 * i + 1] = Int32(3 * u[i] + u[i + 1]); cr[2 * i + 1] = Int32(3 * v[i] + v[i + 1])
            }
          } else {
            for i in 0..<chromaWidth {
              cb[2 * i] = Int32(4 * u[i]); cr[2 * i] = Int32(4 * v[i])
              cb[2 * i + 1] = Int32(2 * (u[i] + u[i + 1])); cr[2 * i + 1] = Int32(2 * (v[i] + v[i + 1]))
            }
          }
          // Eight pixels at a time in SIMD registers, the tail one by one.
          var x = 0
          while x + 8 <= width {
            let y8 = SIMD8<Int32>(truncatingIfNeeded: UnsafeRawPointer(luma + x).loadUnaligned(as: SIMD8<UInt8>.self))
            let b8 = UnsafeRawPointer(cb + x).loadUnaligned(as: SIMD8<Int32>.self)
            let r8 = UnsafeRawPointer(cr + x).loadUnaligned(as: SIMD8<Int32>.self)
            let l = (y8 &- c.yOffset) &* c.yWeight &+ 32768
            let red = ((l &+ c.crToR &* r8) &>> 16).clamped(lowerBound: .zero, upperBound: SIMD8(repeating: 255))
            let green = ((l &+ c.cbToG &* b8 &+ c.crToG &* r8) &>> 16).clamped(lowerBound: .zero, upperBound: SIMD8(repeating: 255))
            let blue = ((l &+ c.cbToB &* b8) &>> 16).clamped(lowerBound: .zero, upperBound: SIMD8(repeating: 255))
            let out = row + 3 * x
            for k in 0..<8 {
              out[3 * k] = UInt8(truncatingIfNeeded: red[k])
              out[3 * k + 1] = UInt8(truncatingIfNeeded: green[k])
              out[3 * k + 2] = UInt8(truncatingIfNeeded: blue[k])
            }
            x += 8
          }
          while x < width {
            let l = (Int32(luma[x]) &- c.yOffset) &* c.yWeight &+ 32768
            let b = cb[x], r = cr[x]
            row[3 * x] = Coefficients.clampByte((l &+ c.crToR &* r) >> 16)
            row[3 * x + 1] = Coefficients.clampByte((l &+ c.cbToG &* b &+ c.crToG &* r) >> 16)
            row[3 * x + 2] = Coefficients.clampByte((l &+ c.cbToB &* b) >> 16)
            x += 1
          }
        }
      }
    }
  }
}

/// The colour matrix in fixed point.
private struct Coefficients {
  let yWeight: Int32, yOffset: Int32, crToR: Int32, cbToG: Int32, crToG: Int32, cbToB: Int32

  @inline(__always) static func clampByte(_ value: Int32) -> UInt8 {
    UInt8(truncatingIfNeeded: Swift.min(Swift.max(value, 0), 255))
  }
}

/// A pointer handed to `concurrentPerform`; each thread writes its own rows.
private struct UncheckedPointer: @unchecked Sendable {
  let pointer: UnsafeMutablePointer<UInt8>
  init(_ pointer: UnsafeMutablePointer<UInt8>) { self.pointer = pointer }
}

/// The source planes, read (never written) by every thread.
private struct Planes: @unchecked Sendable {
  let y: UnsafePointer<UInt8>, u: UnsafePointer<UInt8>, v: UnsafePointer<UInt8>
}
