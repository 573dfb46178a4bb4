import Foundation

/// A complex discrete Fourier transform of one size in double precision, mixed radix (any size;
/// fast when the size factors into 2, 3, 4 and 5, as 512 and 800 do). Immutable and thread-safe.
struct FFT: Sendable {
  let size: Int
  /// (radix, remaining length) per recursion level.
  private let factors: [(radix: Int, length: Int)]
  /// exp(-2πi·k/size), k = 0..<size.
  private let twiddleRe: [Double]
  private let twiddleIm: [Double]

  init(size: Int) {
    precondition(size > 0, "FFT size must be positive")
    self.size = size
    var factors: [(Int, Int)] = []
    var n = size
    while n > 1 {
      let p = n % 4 == 0 ? 4 : n % 2 == 0 ? 2 : n % 3 == 0 ? 3 : n % 5 == 0 ? 5 : Self.smallestFactor(n)
      n /= p
      factors.append((p, n))
    }
    self.factors = factors
    twiddleRe = (0..<size).map { cos(-2 * Double.pi * Double($0) / Double(size)) }
    twiddleIm = (0..<size).map { sin(-2 * Double.pi * Double($0) / Double(size)) }
  }

  private static func smallestFactor(_ n: Int) -> Int {
    var p = 7
    while p * p <= n { if n % p == 0 { return p }; p += 2 }
    return n
  }

  /// Transforms `re`/`im` (each `size` long) into `outRe`/`outIm`.
  func transform(re: UnsafePointer<Double>, im: UnsafePointer<Double>,
                 outRe: UnsafeMutablePointer<Double>, outIm: UnsafeMutablePointer<Double>) {
    if factors.isEmpty { outRe[0] = re[0]; outIm[0] = im[0]; return }
    twiddleRe.withUnsafeBufferPointer { tr in
      twiddleIm.withUnsafeBufferPointer { ti in
        recurse(level: 0, re: re, im: im, stride: 1, outRe: outRe, outIm: outIm, twiddleStride: 1,
                tr: tr.baseAddress!, ti: ti.baseAddress!)
      }
    }
  }

  /// Power spectrum |X_k|² for k = 0...size/2 of a real signal of `count` ≤ size samples (zero padded).
  func powerSpectrum(_ signal: UnsafePointer<Double>, count: Int, into power: UnsafeMutablePointer<Double>,
                     scratch: UnsafeMutablePointer<Double>) {
    // scratch holds 4·size doubles: input re, input im, output re, output im.
    let inRe = scratch, inIm = scratch + size, outRe = scratch + 2 * size, outIm = scratch + 3 * size
    let m = min(count, size)
    inRe.update(from: signal, count: m)
    (inRe + m).update(repeating: 0, count: size - m)
    inIm.update(repeating: 0, count: size)
    transform(re: inRe, im: inIm, outRe: outRe, outIm: outIm)
    for k in 0...(size / 2) { power[k] = outRe[k] * outRe[k] + outIm[k] * outIm[k] }
  }

  private func recurse(level: Int, re: UnsafePointer<Double>, im: UnsafePointer<Double>, stride: Int,
                       outRe: UnsafeMutablePointer<Double>, outIm: UnsafeMutablePointer<Double>,
                       twiddleStride: Int, tr: UnsafePointer<Double>, ti: UnsafePointer<Double>) {
    let (p, m) = factors[level]
    if m == 1 {
      for q in 0..<p { outRe[q] = re[q * stride]; outIm[q] = im[q * stride] }
    } else {
      for q in 0..<p {
        recurse(level: level + 1, re: re + q * stride, im: im + q * stride, stride: stride * p,
                outRe: outRe + q * m, outIm: outIm + q * m, twiddleStride: twiddleStride * p, tr: tr, ti: ti)
      }
    }
    // Butterflies: out[u + k·m] = Σ_q w^(q·u) · x_q[u] · e^(-2πi·qk/p), with w = exp(-2πi/(p·m)).
    let n = size
    switch p {
    case 2:
      for u in 0..<m {
        let t = u * twiddleStride
        let (ar, ai) = (outRe[u], outIm[u])
        let (br0, bi0) = (outRe[u + m], outIm[u + m])
        let br = br0 * tr[t] - bi0 * ti[t], bi = br0 * ti[t] + bi0 * tr[t]
        outRe[u] = ar + br; outIm[u] = ai + bi
        outRe[u + m] = ar - br; outIm[u + m] = ai - bi
      }
    case 4:
      for u in 0..<m {
        let t1 = u * twiddleStride, t2 = 2 * t1, t3 = 3 * t1
        let x0r = outRe[u], x0i = outIm[u]
        let x1r = outRe[u + m] * tr[t1] - outIm[u + m] * ti[t1], x1i = outRe[u + m] * ti[t1] + outIm[u + m] * tr[t1]
        let x2r = outRe[u + 2 * m] * tr[t2] - outIm[u + 2 * m] * ti[t2], x2i = outRe[u + 2 * m] * ti[t2] + outIm[u + 2 * m] * tr[t2]
        let x3r = outRe[u + 3 * m] * tr[t3] - outIm[u + 3 * m] * ti[t3], x3i = outRe[u + 3 * m] * ti[t3] + outIm[u + 3 * m] * tr[t3]
        let s02r = x0r + x2r, s02i = x0i + x2i, d02r = x0r - x2r, d02i = x0i - x2i
        let s13r = x1r + x3r, s13i = x1i + x3i, d13r = x1r - x3r, d13i = x1i - x3i
        outRe[u] = s02r + s13r; outIm[u] = s02i + s13i
        outRe[u + 2 * m] = s02r - s13r; outIm[u + 2 * m] = s02i - s13i
        // −i·d13 for k = 1, +i·d13 for k = 3 (forward transform).
        outRe[u + m] = d02r + d13i; outIm[u + m] = d02i - d13r
        outRe[u + 3 * m] = d02r - d13i; outIm[u + 3 * m] = d02i + d13r
      }
    default:
      var xr = [Double](repeating: 0, count: p), xi = [Double](repeating: 0, count: p)
      for u in 0..<m {
        for q in 0..<p {
          let t = (q * u * twiddleStride) % n
          let r = outRe[u + q * m], i = outIm[u + q * m]
          xr[q] = r * tr[t] - i * ti[t]
          xi[q] = r * ti[t] + i * tr[t]
        }
        for k in 0..<p {
          var sr = 0.0, si = 0.0
          for q in 0..<p {
            let t = (q * k * m * twiddleStride) % n
            sr += xr[q] * tr[t] - xi[q] * ti[t]
            si += xr[q] * ti[t] + xi[q] * tr[t]
          }
          outRe[u + k * m] = sr
          outIm[u + k * m] = si
        }
      }
    }
  }
}
