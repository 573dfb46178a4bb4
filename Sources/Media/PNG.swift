import Foundation

extension RGBImage {
  /// The picture as a PNG: 8-bit RGB, a zlib stream of stored (uncompressed) deflate blocks —
  /// no compressor needed; the report's plots and the monitor's thumbnails are small.
  public func png() -> Data {
    var raw = Data(capacity: (width * 3 + 1) * height)
    for y in 0..<height {
      raw.append(0)  // filter: none
      raw.append(contentsOf: pixels[(y * width * 3)..<((y + 1) * width * 3)])
    }
    var zlib = Data([0x78, 0x01])
    var offset = 0
    repeat {
      let count = min(65_535, raw.count - offset)
      let final: UInt8 = offset + count == raw.count ? 1 : 0
      zlib.append(final)
      zlib.append(contentsOf: [UInt8(count & 0xff), UInt8(count >> 8), UInt8(~count & 0xff), UInt8((~count >> 8) & 0xff)])
      zlib.append(raw[raw.startIndex + offset..<raw.startIndex + offset + count])
      offset += count
    } while offset < raw.count
    zlib.append(contentsOf: PNGChecksums.bigEndian(PNGChecksums.adler32(raw)))
    var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    func chunk(_ type: String, _ body: Data) {
      png.append(contentsOf: PNGChecksums.bigEndian(UInt32(body.count)))
      let typed = Data(type.utf8) + body
      png.append(typed)
      png.append(contentsOf: PNGChecksums.bigEndian(PNGChecksums.crc32(typed)))
    }
    chunk("IHDR", Data(PNGChecksums.bigEndian(UInt32(width)) + PNGChecksums.bigEndian(UInt32(height)) + [8, 2, 0, 0, 0]))
    chunk("IDAT", zlib)
    chunk("IEND", Data())
    return png
  }

  /// The picture reduced so neither side exceeds `maxSide` (aspect kept), each output pixel the
  /// mean of the source pixels it covers; a picture that already fits is returned as is.
  public func scaled(toFit maxSide: Int) -> RGBImage {
    precondition(maxSide > 0, "scaled(toFit:) needs a positive size, got \(maxSide)")
    guard width > maxSide || height > maxSide else { return self }
    let scale = Double(maxSide) / Double(max(width, height))
    let w = max(1, Int((Double(width) * scale).rounded())), h = max(1, Int((Double(height) * scale).rounded()))
    var out = [UInt8](repeating: 0, count: w * h * 3)
    for y in 0..<h {
      let y0 = y * height / h, y1 = max(y0 + 1, (y + 1) * height / h)
      for x in 0..<w {
        let x0 = x * width / w, x1 = max(x0 + 1, (x + 1) * width / w)
        var sum = (0, 0, 0)
        for sy in y0..<y1 {
          for sx in x0..<x1 {
            let i = (sy * width + sx) * 3
            sum.0 += Int(pixels[i]); sum.1 += Int(pixels[i + 1]); sum.2 += Int(pixels[i + 2])
          }
        }
        let n = (y1 - y0) * (x1 - x0), o = (y * w + x) * 3
        out[o] = UInt8((sum.0 + n / 2) / n); out[o + 1] = UInt8((sum.1 + n / 2) / n); out[o + 2] = UInt8((sum.2 + n / 2) / n)
      }
    }
    return RGBImage(width: w, height: h, pixels: out)
  }
}

/// PNG's chunk CRC and zlib's Adler-32.
enum PNGChecksums {
  static func bigEndian(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

  static func adler32(_ data: Data) -> UInt32 {
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in data { a = (a + UInt32(byte)) % 65_521; b = (b + a) % 65_521 }
    return b << 16 | a
  }

  static let crcTable: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
  }

  static func crc32(_ data: Data) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for byte in data { c = crcTable[Int((c ^ UInt32(byte)) & 0xff)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
  }
}
