import Tensors
import TestSupport
import XCTest

/// The fused style-modulation ops against the separate ops they replace, and their gradients
/// against finite differences.
final class ModulatedOpsTests: XCTestCase {
  let check = GradientCheck()

  func testScaledConvEqualsScaleThenConv() {
    let x = Tensor.randomNormal([2, 3, 6, 5], seed: 1), s = Tensor.randomUniform([2, 3], in: 0.5...2, seed: 2)
    for (weightShape, padding) in [([4, 3, 3, 3], 1), ([2, 3, 1, 1], 0), ([3, 3, 2, 3], 0)] as [(Shape, Int)] {
      let w = Tensor.randomNormal(weightShape, seed: 3)
      let fused = Tensor.conv2d(x, inputScale: s, weight: w, padding: padding)
      let separate = Tensor.conv2d(x * s.reshaped([2, 3, 1, 1]), weight: w, padding: padding)
      XCTAssertLessThan(relativeError(fused, separate), 1e-6, "weight \(weightShape)")
    }
  }

  func testScaledTransposedConvEqualsScaleThenTransposedConv() {
    let x = Tensor.randomNormal([2, 3, 4, 5], seed: 4), s = Tensor.randomUniform([2, 3], in: 0.5...2, seed: 5)
    let w = Tensor.randomNormal([3, 4, 3, 3], seed: 6)
    let fused = Tensor.conv2dTransposed(x, inputScale: s, weight: w, stride: 2)
    let separate = Tensor.conv2dTransposed(x * s.reshaped([2, 3, 1, 1]), weight: w, stride: 2)
    XCTAssertEqual(fused.shape, [2, 4, 9, 11])
    XCTAssertLessThan(relativeError(fused, separate), 1e-6)
  }

  func testScaledConvGradients() {
    let x = Tensor.randomNormal([2, 3, 5, 4], seed: 7), s = Tensor.randomUniform([2, 3], in: 0.5...2, seed: 8)
    let w = Tensor.randomNormal([4, 3, 3, 3], seed: 9)
    let conv = check.run([x, s, w]) { Tensor.conv2d($0[0], inputScale: $0[1], weight: $0[2], padding: 1) }
    XCTAssertLessThan(conv.worst, 1e-2, "conv2d(inputScale:) \(conv)")
    let wt = Tensor.randomNormal([3, 2, 3, 3], seed: 10)
    let transposed = check.run([x, s, wt]) { Tensor.conv2dTransposed($0[0], inputScale: $0[1], weight: $0[2], stride: 2) }
    XCTAssertLessThan(transposed.worst, 1e-2, "conv2dTransposed(inputScale:) \(transposed)")
  }

  func testScaledConvComputesOnlyRequestedGradients() {
    // Only the scale requires a gradient (W+ optimization through frozen weights).
    let x = Tensor.randomNormal([1, 2, 4, 4], seed: 11), w = Tensor.randomNormal([3, 2, 3, 3], seed: 12)
    let s = Tensor.randomUniform([1, 2], in: 0.5...2, seed: 13).requiringGradient()
    let y = Tensor.conv2d(x, inputScale: s, weight: w, padding: 1).sum()
    let g = gradients(of: y, wrt: [s])[0]
    let reference = gradients(of: Tensor.conv2d(x * s.reshaped([1, 2, 1, 1]), weight: w, padding: 1).sum(), wrt: [s])[0]
    XCTAssertLessThan(relativeError(g, reference), 1e-5)
  }

  /// Inputs whose pre-activations x·d + w·noise + b stay at least 0.3 from the kink, so no
  /// finite-difference step (1e-2 on values of magnitude ≤ 2) crosses it.
  func activationInputs(noiseBatch: Int) -> (x: Tensor, d: Tensor, noise: Tensor, w: Tensor, b: Tensor) {
    let (n, c, h, wd) = (2, 3, 4, 5)
    let d = Tensor.randomUniform([n, c], in: 0.5...1.5, seed: 14)
    let noise = Tensor.randomUniform([noiseBatch, 1, h, wd], in: -1...1, seed: 15)
    let w = Tensor([0.7], shape: [1]), b = Tensor.randomUniform([c], in: -0.5...0.5, seed: 16)
    let pre = Tensor.randomUniform([n, c, h, wd], in: 0.3...1, seed: 17).scalars
    let signs = Tensor.randomUniform([n, c, h, wd], in: -1...1, seed: 18).scalars
    let (ds, zs, bs) = (d.scalars, noise.scalars, b.scalars)
    var xs = [Float](repeating: 0, count: pre.count)
    for i in xs.indices {
      let plane = i / (h * wd), pixel = i % (h * wd), ch = plane % c, sample = plane / c
      let z = zs[(noiseBatch == 1 ? 0 : sample) * h * wd + pixel]
      let target = signs[i] >= 0 ? pre[i] : -pre[i]
      xs[i] = (target - 0.7 * z - bs[ch]) / ds[plane]
    }
    return (Tensor(xs, shape: [n, c, h, wd]), d, noise, w, b)
  }

  func testStyledActivationEqualsSeparateOps() {
    for noiseBatch in [1, 2] {
      let (x, d, noise, w, b) = activationInputs(noiseBatch: noiseBatch)
      let fused = Tensor.styledActivation(x, demodulation: d, noise: noise, noiseWeight: w, bias: b, slope: 0.2, gain: 1.5)
      let separate = (x * d.reshaped([2, 3, 1, 1]) + w * noise + b.reshaped([1, 3, 1, 1])).leakyRelu(slope: 0.2, gain: 1.5)
      XCTAssertLessThan(relativeError(fused, separate), 1e-6, "noise batch \(noiseBatch)")
    }
    let (x, _, _, _, b) = activationInputs(noiseBatch: 1)
    let plain = Tensor.styledActivation(x, bias: b)
    XCTAssertLessThan(relativeError(plain, (x + b.reshaped([1, 3, 1, 1])).leakyRelu(slope: 0.2, gain: Float(2).squareRoot())), 1e-6)
  }

  func testStyledActivationGradients() {
    for noiseBatch in [1, 2] {
      let (x, d, noise, w, b) = activationInputs(noiseBatch: noiseBatch)
      let all = check.run([x, d, noise, w, b]) {
        Tensor.styledActivation($0[0], demodulation: $0[1], noise: $0[2], noiseWeight: $0[3], bias: $0[4], slope: 0.2, gain: 1.5)
      }
      XCTAssertLessThan(all.worst, 1e-2, "noise batch \(noiseBatch): \(all)")
    }
    // Without demodulation and noise: x·d + w·noise is the input whose x + b keeps off the kink.
    let (x, d, noise, w, b) = activationInputs(noiseBatch: 1)
    let plainInput = x * d.reshaped([2, 3, 1, 1]) + w * noise
    let plain = check.run([plainInput, b]) { Tensor.styledActivation($0[0], bias: $0[1]) }
    XCTAssertLessThan(plain.worst, 1e-2, "\(plain)")
  }

  // MARK: Separable upfirdn2d

  /// upfirdn2d from its definition: zero insertion, padding (negative crops), true
  /// convolution with the kernel, subsampling; accumulated in double.
  func directUpFirDn(_ x: Tensor, _ k: Tensor, up: Int, down: Int, pad: (Int, Int, Int, Int)) -> Tensor {
    let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (kh, kw) = (k.shape[0], k.shape[1])
    let ph = h * up + pad.2 + pad.3, pw = w * up + pad.0 + pad.1
    let ho = (ph - kh) / down + 1, wo = (pw - kw) / down + 1
    let xs = x.scalars, ks = k.scalars
    var out = [Float](repeating: 0, count: n * c * ho * wo)
    for plane in 0..<(n * c) {
      for oy in 0..<ho {
        for ox in 0..<wo {
          var acc = 0.0
          for i in 0..<kh {
            for j in 0..<kw {
              let uy = oy * down + i - pad.2, ux = ox * down + j - pad.0
              guard uy >= 0, ux >= 0, uy < h * up, ux < w * up, uy % up == 0, ux % up == 0 else { continue }
              acc += Double(xs[(plane * h + uy / up) * w + ux / up]) * Double(ks[(kh - 1 - i) * kw + (kw - 1 - j)])
            }
          }
          out[(plane * ho + oy) * wo + ox] = Float(acc)
        }
      }
    }
    return Tensor(out, shape: [n, c, ho, wo])
  }

  func testSeparableUpFirDnMatchesDefinition() {
    // StyleGAN2's blur and upsampling kernels, and an asymmetric rank-1 kernel.
    let blur: [Float] = [1, 3, 3, 1].flatMap { a in [1, 3, 3, 1].map { a * $0 / 16 } }
    let asymmetric: [Float] = [1, -2, 0.5].flatMap { a in [0.3, 1, 2, -1].map { a * $0 } }
    let cases: [(Tensor, up: Int, down: Int, pad: (Int, Int, Int, Int))] = [
      (Tensor(blur, shape: [4, 4]), 1, 1, (1, 1, 1, 1)), (Tensor(blur, shape: [4, 4]), 2, 1, (2, 1, 2, 1)),
      (Tensor(blur, shape: [4, 4]), 1, 2, (1, 1, 1, 1)), (Tensor(asymmetric, shape: [3, 4]), 2, 3, (-1, 2, 1, -1)),
    ]
    let x = Tensor.randomNormal([2, 3, 7, 6], seed: 19)
    for (kernel, up, down, pad) in cases {
      let result = Tensor.upfirdn2d(x, kernel: kernel, up: up, down: down, pad: pad)
      XCTAssertLessThan(relativeError(result, directUpFirDn(x, kernel, up: up, down: down, pad: pad)), 1e-6,
                        "kernel \(kernel.shape) up \(up) down \(down) pad \(pad)")
      let grads = check.run([x]) { Tensor.upfirdn2d($0[0], kernel: kernel, up: up, down: down, pad: pad) }
      XCTAssertLessThan(grads.worst, 1e-2, "up \(up) down \(down) pad \(pad): \(grads)")
    }
  }
}
