import Foundation

/// A small RGB raster for the report's PNG plots: filled rectangles, lines, and labels in a
/// built-in 5×7 pixel font (lowercase letters, digits and a little punctuation), written as PNG.
struct Canvas {
  let width: Int, height: Int
  private(set) var pixels: [UInt8]

  init(width: Int, height: Int, background: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
    (self.width, self.height) = (width, height)
    pixels = [UInt8](repeating: 0, count: width * height * 3)
    for i in 0..<(width * height) { (pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]) = background }
  }

  mutating func set(_ x: Int, _ y: Int, _ color: (UInt8, UInt8, UInt8)) {
    guard x >= 0, y >= 0, x < width, y < height else { return }
    let i = 3 * (y * width + x)
    (pixels[i], pixels[i + 1], pixels[i + 2]) = color
  }

  mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ color: (UInt8, UInt8, UInt8)) {
    for yy in max(0, y)..<min(height, y + h) { for xx in max(0, x)..<min(width, x + w) { set(xx, yy, color) } }
  }

  /// A line two pixels wide (Bresenham, thickened downward).
  mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: (UInt8, UInt8, UInt8)) {
    var (x, y) = (x0, y0)
    let dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
    var error = dx + dy
    while true {
      set(x, y, color)
      set(x, y + 1, color)
      if x == x1 && y == y1 { break }
      let e2 = 2 * error
      if e2 >= dy { error += dy; x += sx }
      if e2 <= dx { error += dx; y += sy }
    }
  }

  /// `text` with its top-left corner at (x, y); characters the font lacks are left blank.
  mutating func text(_ text: String, x: Int, y: Int, _ color: (UInt8, UInt8, UInt8) = (0, 0, 0)) {
    for (n, character) in text.lowercased().enumerated() {
      guard let rows = Canvas.font[character] else { continue }
      for (r, row) in rows.enumerated() {
        for (c, bit) in row.enumerated() where bit == "#" { set(x + 6 * n + c, y + r, color) }
      }
    }
  }

  static func textWidth(_ text: String) -> Int { 6 * text.count }

  /// PNG: 8-bit RGB, zlib stream of stored (uncompressed) deflate blocks — no compressor needed,
  /// and the plots are small.
  func png() -> Data {
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
    zlib.append(contentsOf: Canvas.bigEndian(Canvas.adler32(raw)))
    var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    func chunk(_ type: String, _ body: Data) {
      png.append(contentsOf: Canvas.bigEndian(UInt32(body.count)))
      let typed = Data(type.utf8) + body
      png.append(typed)
      png.append(contentsOf: Canvas.bigEndian(Canvas.crc32(typed)))
    }
    chunk("IHDR", Data(Canvas.bigEndian(UInt32(width)) + Canvas.bigEndian(UInt32(height)) + [8, 2, 0, 0, 0]))
    chunk("IDAT", zlib)
    chunk("IEND", Data())
    return png
  }

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

  /// 5×7 glyphs, one string per row.
  static let font: [Character: [String]] = [
    "a": [".....", ".....", ".###.", "....#", ".####", "#...#", ".####"],
    "b": ["#....", "#....", "####.", "#...#", "#...#", "#...#", "####."],
    "c": [".....", ".....", ".###.", "#....", "#....", "#....", ".###."],
    "d": ["....#", "....#", ".####", "#...#", "#...#", "#...#", ".####"],
    "e": [".....", ".....", ".###.", "#...#", "#####", "#....", ".###."],
    "f": ["..##.", ".#...", "####.", ".#...", ".#...", ".#...", ".#..."],
    "g": [".....", ".....", ".####", "#...#", ".####", "....#", ".###."],
    "h": ["#....", "#....", "####.", "#...#", "#...#", "#...#", "#...#"],
    "i": ["..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."],
    "j": ["...#.", ".....", "..##.", "...#.", "...#.", "#..#.", ".##.."],
    "k": ["#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."],
    "l": [".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."],
    "m": [".....", ".....", "##.#.", "#.#.#", "#.#.#", "#.#.#", "#.#.#"],
    "n": [".....", ".....", "####.", "#...#", "#...#", "#...#", "#...#"],
    "o": [".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."],
    "p": [".....", ".....", "####.", "#...#", "####.", "#....", "#...."],
    "q": [".....", ".....", ".####", "#...#", ".####", "....#", "....#"],
    "r": [".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."],
    "s": [".....", ".....", ".####", "#....", ".###.", "....#", "####."],
    "t": [".#...", ".#...", "####.", ".#...", ".#...", ".#..#", "..##."],
    "u": [".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"],
    "v": [".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."],
    "w": [".....", ".....", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."],
    "x": [".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"],
    "y": [".....", ".....", "#...#", "#...#", ".####", "....#", ".###."],
    "z": [".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"],
    "0": [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."],
    "1": ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
    "2": [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
    "3": ["####.", "....#", "....#", ".###.", "....#", "....#", "####."],
    "4": ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
    "5": ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."],
    "6": ["..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."],
    "7": ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
    "8": [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."],
    "9": [".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."],
    ".": [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."],
    "-": [".....", ".....", ".....", "#####", ".....", ".....", "....."],
    ":": [".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."],
    "/": ["....#", "...#.", "...#.", "..#..", ".#...", ".#...", "#...."],
    "%": ["##..#", "##..#", "...#.", "..#..", ".#...", "#..##", "#..##"],
    "(": ["...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."],
    ")": [".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."],
    "_": [".....", ".....", ".....", ".....", ".....", ".....", "#####"],
    "×": [".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "....."],
  ]
}
