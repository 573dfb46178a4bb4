import Tensors
import TestSupport
import XCTest

final class ConvTests: XCTestCase {
  typealias Sides = (top: Int, bottom: Int, left: Int, right: Int)

  /// conv2d straight from its definition, accumulated in double.
  func directConv(_ x: Tensor, _ w: Tensor, _ b: Tensor?, stride: Int, padding p: Sides, groups: Int) -> Tensor {
    let (n, cin, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (cout, perGroup, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
    let ho = (h + p.top + p.bottom - kh) / stride + 1, wo = (wd + p.left + p.right - kw) / stride + 1
    let xs = x.scalars, ws = w.scalars, bs = b?.scalars
    var out = [Float](repeating: 0, count: n * cout * ho * wo)
    for s in 0..<n {
      for o in 0..<cout {
        let group = o / (cout / groups)
        for oy in 0..<ho {
          for ox in 0..<wo {
            var acc = Double(bs?[o] ?? 0)
            for cl in 0..<perGroup {
              let c = group * perGroup + cl
              for i in 0..<kh {
                for j in 0..<kw {
                  let iy = oy * stride - p.top + i, ix = ox * stride - p.left + j
                  if iy < 0 || iy >= h || ix < 0 || ix >= wd { continue }
                  acc += Double(xs[((s * cin + c) * h + iy) * wd + ix]) * Double(ws[((o * perGroup + cl) * kh + i) * kw + j])
                }
              }
            }
            out[((s * cout + o) * ho + oy) * wo + ox] = Float(acc)
          }
        }
      }
    }
    return Tensor(out, shape: [n, cout, ho, wo])
  }

  struct Case {
    var input: Shape
    var weight: Shape
    var stride = 1
    var padding: Sides = (0, 0, 0, 0)
    var groups = 1
    var bias = true
  }

  /// Direct GEMM (1×1), im2col at strides 1–3, asymmetric padding, groups, depthwise.
  let cases: [Case] = [
    Case(input: [2, 3, 7, 6], weight: [4, 3, 3, 3], stride: 1, padding: (1, 1, 1, 1)),
    Case(input: [2, 3, 7, 6], weight: [4, 3, 3, 3], stride: 2, padding: (1, 1, 1, 1)),
    Case(input: [1, 2, 9, 11], weight: [3, 2, 4, 3], stride: 3, padding: (2, 0, 1, 2), bias: false),
    Case(input: [2, 5, 4, 3], weight: [3, 5, 1, 1]),
    Case(input: [1, 4, 5, 6], weight: [2, 4, 1, 1], stride: 2),
    Case(input: [2, 4, 6, 5], weight: [6, 2, 3, 3], stride: 1, padding: (1, 1, 1, 1), groups: 2),
    Case(input: [2, 3, 7, 7], weight: [3, 1, 3, 3], stride: 2, padding: (1, 1, 1, 1), groups: 3),
    Case(input: [2, 4, 6, 7], weight: [4, 1, 5, 3], stride: 1, padding: (2, 1, 0, 1), groups: 4),
    Case(input: [1, 2, 6, 7], weight: [3, 2, 3, 2], stride: 1, padding: (1, 0, 2, 1), bias: false),
    // Padding as large as the kernel: the stride-1 input gradient cannot use the flipped conv.
    Case(input: [1, 2, 4, 5], weight: [2, 2, 2, 2], stride: 1, padding: (2, 1, 2, 0)),
  ]

  func tensors(for c: Case, seed: UInt64) -> (x: Tensor, w: Tensor, b: Tensor?) {
    (Tensor.randomNormal(c.input, seed: seed), Tensor.randomNormal(c.weight, seed: seed + 1),
     c.bias ? Tensor.randomNormal([c.weight[0]], seed: seed + 2) : nil)
  }

  func testForwardMatchesDirectDefinition() {
    for (k, c) in cases.enumerated() {
      let (x, w, b) = tensors(for: c, seed: UInt64(10 * k))
      let y = Tensor.conv2d(x, weight: w, bias: b, stride: c.stride, padding: c.padding, groups: c.groups)
      let expected = directConv(x, w, b, stride: c.stride, padding: c.padding, groups: c.groups)
      XCTAssertEqual(y.shape, expected.shape, "case \(k)")
      if y.shape == expected.shape { XCTAssertLessThan(relativeError(y, expected), 1e-5, "case \(k)") }
    }
  }

  func testSymmetricPaddingOverload() {
    let x = Tensor.randomNormal([1, 2, 5, 5], seed: 1), w = Tensor.randomNormal([3, 2, 3, 3], seed: 2)
    let y = Tensor.conv2d(x, weight: w, stride: 2, padding: 1)
    XCTAssertEqual(y.shape, [1, 3, 3, 3])
    XCTAssertLessThan(relativeError(y, directConv(x, w, nil, stride: 2, padding: (1, 1, 1, 1), groups: 1)), 1e-5)
  }

  func testHandComputedCase() {
    // 3×3 ramp, 2×2 kernel [[1, 0], [0, -1]]: each output is x[i][j] − x[i+1][j+1] = −4.
    let x = Tensor((0..<9).map(Float.init), shape: [1, 1, 3, 3])
    let w = Tensor([1, 0, 0, -1], shape: [1, 1, 2, 2])
    XCTAssertEqual(Tensor.conv2d(x, weight: w, bias: Tensor([0.5], shape: [1])).scalars, [-3.5, -3.5, -3.5, -3.5])
    // With padding 1 the corner output sees only x[0][0] (times −1).
    let padded = Tensor.conv2d(x, weight: w, padding: 1)
    XCTAssertEqual(padded.shape, [1, 1, 4, 4])
    XCTAssertEqual(padded[0, 0, 0, 0], 0)
    XCTAssertEqual(padded[0, 0, 3, 3], 8)
    XCTAssertEqual(padded[0, 0, 1, 1], -4)
  }

  func testGradients() {
    for (k, c) in cases.enumerated() {
      let (x, w, b) = tensors(for: c, seed: UInt64(100 + 10 * k))
      let inputs = [x, w] + (b.map { [$0] } ?? [])
      let result = GradientCheck().run(inputs) { t in
        Tensor.conv2d(t[0], weight: t[1], bias: t.count > 2 ? t[2] : nil, stride: c.stride, padding: c.padding,
                      groups: c.groups)
      }
      XCTAssertLessThan(result.worst, 1e-2, "case \(k): \(result)")
    }
  }

  /// ⟨conv(x), g⟩ = ⟨x, ∂input(g)⟩ = ⟨w, ∂weight(g)⟩, on layers big enough that im2col runs in
  /// several bands of output rows and the backward passes take each of their paths.
  func testBackwardPassesAreAdjointsOnBandedLayers() {
    let layers: [Case] = [
      Case(input: [2, 64, 40, 60], weight: [3, 64, 5, 5], stride: 1, padding: (2, 2, 2, 2), bias: false),
      Case(input: [1, 48, 90, 70], weight: [5, 48, 3, 3], stride: 2, padding: (1, 1, 1, 1), bias: false),
      Case(input: [2, 16, 30, 20], weight: [16, 8, 3, 3], stride: 1, padding: (0, 1, 1, 0), groups: 2, bias: false),
    ]
    for (k, c) in layers.enumerated() {
      let (x, w, _) = tensors(for: c, seed: UInt64(200 + 10 * k))
      let y = Tensor.conv2d(x, weight: w, stride: c.stride, padding: c.padding, groups: c.groups)
      let g = Tensor.randomNormal(y.shape, seed: UInt64(205 + 10 * k))
      let gx = Tensor.conv2dBackwardInput(g, weight: w, inputShape: x.shape, stride: c.stride, padding: c.padding,
                                          groups: c.groups)
      let gw = Tensor.conv2dBackwardWeight(g, input: x, weightShape: w.shape, stride: c.stride, padding: c.padding,
                                           groups: c.groups)
      let reference = dot(y, g)
      XCTAssertEqual(dot(x, gx), reference, accuracy: 1e-4 * Swift.abs(reference) + 1e-2, "layer \(k) input")
      XCTAssertEqual(dot(w, gw), reference, accuracy: 1e-4 * Swift.abs(reference) + 1e-2, "layer \(k) weight")
      if k == 0 {
        // Spot check the forward pass of the multi-band layer against the definition.
        let small = directConv(x.slice(axis: 0, 0..<1), w, nil, stride: 1, padding: c.padding, groups: 1)
        XCTAssertLessThan(relativeError(y.slice(axis: 0, 0..<1), small), 1e-5)
      }
    }
  }

  func testMatchesPyTorch() {
    OpsReference.check("conv_stride2", inputs: ["x", "w", "b"]) {
      Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1)
    }
    OpsReference.check("conv_groups2", inputs: ["x", "w", "b"]) {
      Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], padding: 1, groups: 2)
    }
    OpsReference.check("conv_depthwise", inputs: ["x", "w", "b"]) {
      Tensor.conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1, groups: 3)
    }
    OpsReference.check("conv_asym", inputs: ["x", "w"]) {
      Tensor.conv2d($0[0], weight: $0[1], padding: (top: 1, bottom: 0, left: 2, right: 1))
    }
    OpsReference.check("conv_pointwise", inputs: ["x", "w", "b"]) { Tensor.conv2d($0[0], weight: $0[1], bias: $0[2]) }
    OpsReference.check("conv_5x5", inputs: ["x", "w"]) { Tensor.conv2d($0[0], weight: $0[1], padding: 2) }
  }

  func testOnlyRequestedGradientsAreComputed() {
    let x = Tensor.randomNormal([1, 2, 4, 4], seed: 1), w = Tensor.randomNormal([3, 2, 3, 3], seed: 2).requiringGradient()
    let b = Tensor.randomNormal([3], seed: 3)
    let y = Tensor.conv2d(x, weight: w, bias: b, padding: 1)
    XCTAssertTrue(y.requiresGradient)
    let gw = gradients(of: y.sum(), wrt: [w])[0]
    let expected = Tensor.conv2dBackwardWeight(Tensor(ones: y.shape), input: x, weightShape: w.shape, padding: 1)
    XCTAssertLessThan(relativeError(gw, expected), 1e-6)
    XCTAssertFalse(Tensor.conv2d(x, weight: w.detached(), bias: b).requiresGradient)
  }
}

final class ConvTransposeTests: XCTestCase {
  func testMatchesPyTorch() {
    OpsReference.check("convT_outpad", inputs: ["x", "w", "b"]) {
      Tensor.conv2dTransposed($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1, outputPadding: 1)
    }
    OpsReference.check("convT_k4", inputs: ["x", "w"]) { Tensor.conv2dTransposed($0[0], weight: $0[1], stride: 2, padding: 1) }
    OpsReference.check("convT_stride2_pad0", inputs: ["x", "w"]) { Tensor.conv2dTransposed($0[0], weight: $0[1], stride: 2) }
    OpsReference.check("convT_stride1", inputs: ["x", "w", "b"]) {
      Tensor.conv2dTransposed($0[0], weight: $0[1], bias: $0[2], padding: 1)
    }
  }

  func testHandComputedCase() {
    // A stride-2 transposed conv with a 1×1 kernel spreads the input onto every other pixel.
    let x = Tensor([1, 2, 3, 4], shape: [1, 1, 2, 2]), w = Tensor([2], shape: [1, 1, 1, 1])
    let y = Tensor.conv2dTransposed(x, weight: w, stride: 2, outputPadding: 1)
    XCTAssertEqual(y.shape, [1, 1, 4, 4])
    XCTAssertEqual(y.scalars, [2, 0, 4, 0, 0, 0, 0, 0, 6, 0, 8, 0, 0, 0, 0, 0])
  }

  func testGradients() {
    let settings: [(stride: Int, padding: Int, outputPadding: Int, kernel: Int)] = [(2, 1, 1, 3), (2, 0, 0, 3), (1, 1, 0, 3), (3, 1, 2, 4)]
    for (k, s) in settings.enumerated() {
      let x = Tensor.randomNormal([2, 3, 3, 4], seed: UInt64(10 * k))
      let w = Tensor.randomNormal([3, 2, s.kernel, s.kernel], seed: UInt64(10 * k + 1))
      let b = Tensor.randomNormal([2], seed: UInt64(10 * k + 2))
      let result = GradientCheck().run([x, w, b]) {
        Tensor.conv2dTransposed($0[0], weight: $0[1], bias: $0[2], stride: s.stride, padding: s.padding,
                                outputPadding: s.outputPadding)
      }
      XCTAssertLessThan(result.worst, 1e-2, "setting \(s): \(result)")
    }
  }
}
