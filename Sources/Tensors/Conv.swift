// 2-D convolution (PyTorch's conv2d: cross-correlation, dilation 1) and its gradients.
//
// Strategy: 1×1 stride-1 unpadded convs are one GEMM per sample and group. Everything else
// unfolds the input (im2col) a band of output rows at a time, so the scratch stays under
// `ConvGeometry.maxScratchFloats` (16 MB) however large the image, and runs one GEMM per band.
// Depthwise convs (one input and one output channel per group) use direct loops, since their
// GEMMs would have a single row.

/// Padding on each side of an image, in pixels.
struct ConvPadding: Equatable {
  var top: Int, bottom: Int, left: Int, right: Int

  init(top: Int, bottom: Int, left: Int, right: Int) {
    (self.top, self.bottom, self.left, self.right) = (top, bottom, left, right)
  }

  init(_ all: Int) { self.init(top: all, bottom: all, left: all, right: all) }

  init(_ sides: (top: Int, bottom: Int, left: Int, right: Int)) {
    self.init(top: sides.top, bottom: sides.bottom, left: sides.left, right: sides.right)
  }
}

/// The sizes of one convolution: input [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw],
/// output [N, Cout, Ho, Wo].
struct ConvGeometry {
  // im2col band sizing, measured on StyleGAN2's 3×3 layers: bands of about 2 MB run fastest
  // (they stay in cache while the GEMM consumes them), but GEMMs narrower than ~512 output
  // pixels lose more than that gains; 16 MB is the hard cap whatever the layer.
  static let bandScratchFloats = 1 << 19
  static let minBandPixels = 512
  static let maxScratchFloats = 4 << 20

  let batch: Int, inChannels: Int, height: Int, width: Int
  let outChannels: Int, kernelHeight: Int, kernelWidth: Int
  let stride: Int, groups: Int
  let padding: ConvPadding
  let outHeight: Int, outWidth: Int

  init(input: Shape, weight: Shape, stride: Int, padding: ConvPadding, groups: Int, op: String) {
    precondition(input.rank == 4, "\(op): input must be [N, C, H, W], got \(input)")
    precondition(weight.rank == 4, "\(op): weight must be [Cout, Cin/groups, kh, kw], got \(weight)")
    precondition(stride >= 1, "\(op): stride must be at least 1, got \(stride)")
    precondition(padding.top >= 0 && padding.bottom >= 0 && padding.left >= 0 && padding.right >= 0,
                 "\(op): padding must not be negative, got \(padding)")
    precondition(groups >= 1 && input[1] % groups == 0 && weight[0] % groups == 0,
                 "\(op): groups \(groups) must divide input channels \(input[1]) and output channels \(weight[0])")
    precondition(weight[1] * groups == input[1],
                 "\(op): weight \(weight) expects \(weight[1] * groups) input channels with groups \(groups); input is \(input)")
    (batch, inChannels, height, width) = (input[0], input[1], input[2], input[3])
    (outChannels, kernelHeight, kernelWidth) = (weight[0], weight[2], weight[3])
    self.stride = stride
    self.groups = groups
    self.padding = padding
    let paddedHeight = height + padding.top + padding.bottom
    let paddedWidth = width + padding.left + padding.right
    precondition(paddedHeight >= kernelHeight && paddedWidth >= kernelWidth,
                 "\(op): kernel \(kernelHeight)×\(kernelWidth) larger than the padded input \(paddedHeight)×\(paddedWidth)")
    outHeight = (paddedHeight - kernelHeight) / stride + 1
    outWidth = (paddedWidth - kernelWidth) / stride + 1
  }

  var inPerGroup: Int { inChannels / groups }
  var outPerGroup: Int { outChannels / groups }
  var taps: Int { kernelHeight * kernelWidth }
  /// Rows of the unfolded input (and columns of the weight matrix) per group.
  var patchSize: Int { inPerGroup * taps }
  var inPlane: Int { height * width }
  var outPlane: Int { outHeight * outWidth }
  var inputShape: Shape { [batch, inChannels, height, width] }
  var outputShape: Shape { [batch, outChannels, outHeight, outWidth] }
  var weightShape: Shape { [outChannels, inPerGroup, kernelHeight, kernelWidth] }
  var isDepthwise: Bool { inPerGroup == 1 && outPerGroup == 1 }
  var isPointwise: Bool {
    kernelHeight == 1 && kernelWidth == 1 && stride == 1 && padding == ConvPadding(0)
  }

  /// Output rows per im2col band.
  var bandRows: Int {
    let rowFloats = Swift.max(1, patchSize * outWidth)
    let wanted = Swift.max(Self.bandScratchFloats / rowFloats, (Self.minBandPixels + outWidth - 1) / Swift.max(1, outWidth))
    return Swift.max(1, Swift.min(outHeight, wanted, Self.maxScratchFloats / rowFloats))
  }

  /// Output columns `ox` whose tap `j` reads inside the input row: 0 ≤ ox·s − left + j < W.
  @inline(__always) func validColumns(tap j: Int) -> Range<Int> {
    Self.validOutputs(tap: j, pad: padding.left, inSize: width, outSize: outWidth, stride: stride)
  }

  @inline(__always) func validRows(tap i: Int) -> Range<Int> {
    Self.validOutputs(tap: i, pad: padding.top, inSize: height, outSize: outHeight, stride: stride)
  }

  @inline(__always) static func validOutputs(tap: Int, pad: Int, inSize: Int, outSize: Int, stride: Int) -> Range<Int> {
    let first = pad - tap  // ox·s must be ≥ this
    let last = inSize - 1 + pad - tap  // ox·s must be ≤ this
    if last < 0 { return 0..<0 }
    let lo = first <= 0 ? 0 : (first + stride - 1) / stride
    let hi = Swift.min(outSize, last / stride + 1)
    return lo < hi ? lo..<hi : 0..<0
  }
}

extension Tensor {
  /// 2-D convolution with PyTorch's `conv2d` semantics (dilation 1): `x` is [N, Cin, H, W],
  /// `weight` [Cout, Cin/groups, kh, kw], `bias` [Cout]. Differentiable in all three.
  public static func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, groups: Int = 1
  ) -> Tensor {
    conv2d(x, weight: weight, bias: bias, stride: stride,
           padding: (top: padding, bottom: padding, left: padding, right: padding), groups: groups)
  }

  /// 2-D convolution with a different zero padding on each side (as `F.pad` then `conv2d`).
  public static func conv2d(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1,
    padding: (top: Int, bottom: Int, left: Int, right: Int), groups: Int = 1
  ) -> Tensor {
    let g = ConvGeometry(input: x.shape, weight: weight.shape, stride: stride, padding: ConvPadding(padding),
                         groups: groups, op: "conv2d")
    if let bias {
      precondition(bias.shape == [g.outChannels], "conv2d: bias must be [\(g.outChannels)], got \(bias.shape)")
    }
    let out = Tensor(uninitialized: g.outputShape)
    convForward(g, input: x.base, weight: weight.base, bias: bias?.base, output: out.base)

    let x0 = x.detached(), w0 = weight.detached()
    let needInput = x.node != nil, needWeight = weight.node != nil, needBias = bias?.node != nil
    let hasBias = bias != nil
    return record(out, inputs: bias.map { [x, weight, $0] } ?? [x, weight]) { gradOut in
      var grads: [Tensor?] = [nil, nil]
      if needInput {
        let gx = Tensor(uninitialized: g.inputShape)
        convBackwardInput(g, gradOutput: gradOut.base, weight: w0.base, gradInput: gx.base)
        grads[0] = gx
      }
      if needWeight {
        let gw = Tensor(uninitialized: g.weightShape)
        convBackwardWeight(g, gradOutput: gradOut.base, input: x0.base, gradWeight: gw.base)
        grads[1] = gw
      }
      if hasBias { grads.append(needBias ? channelSums(gradOut) : nil) }
      return grads
    }
  }

  /// The gradient of `conv2d` with respect to its input, for an input of `inputShape`
  /// (needed because strided convs map several input sizes to one output size).
  /// Builds no autodiff graph.
  public static func conv2dBackwardInput(
    _ gradOutput: Tensor, weight: Tensor, inputShape: Shape, stride: Int = 1, padding: Int = 0, groups: Int = 1
  ) -> Tensor {
    conv2dBackwardInput(gradOutput, weight: weight, inputShape: inputShape, stride: stride,
                        padding: (top: padding, bottom: padding, left: padding, right: padding), groups: groups)
  }

  public static func conv2dBackwardInput(
    _ gradOutput: Tensor, weight: Tensor, inputShape: Shape, stride: Int = 1,
    padding: (top: Int, bottom: Int, left: Int, right: Int), groups: Int = 1
  ) -> Tensor {
    let g = ConvGeometry(input: inputShape, weight: weight.shape, stride: stride, padding: ConvPadding(padding),
                         groups: groups, op: "conv2dBackwardInput")
    precondition(gradOutput.shape == g.outputShape,
                 "conv2dBackwardInput: gradient \(gradOutput.shape) does not match the conv output \(g.outputShape)")
    let gx = Tensor(uninitialized: inputShape)
    convBackwardInput(g, gradOutput: gradOutput.base, weight: weight.base, gradInput: gx.base)
    return gx
  }

  /// The gradient of `conv2d` with respect to its weight, of shape `weightShape`.
  /// Builds no autodiff graph.
  public static func conv2dBackwardWeight(
    _ gradOutput: Tensor, input: Tensor, weightShape: Shape, stride: Int = 1, padding: Int = 0, groups: Int = 1
  ) -> Tensor {
    conv2dBackwardWeight(gradOutput, input: input, weightShape: weightShape, stride: stride,
                         padding: (top: padding, bottom: padding, left: padding, right: padding), groups: groups)
  }

  public static func conv2dBackwardWeight(
    _ gradOutput: Tensor, input: Tensor, weightShape: Shape, stride: Int = 1,
    padding: (top: Int, bottom: Int, left: Int, right: Int), groups: Int = 1
  ) -> Tensor {
    let g = ConvGeometry(input: input.shape, weight: weightShape, stride: stride, padding: ConvPadding(padding),
                         groups: groups, op: "conv2dBackwardWeight")
    precondition(gradOutput.shape == g.outputShape,
                 "conv2dBackwardWeight: gradient \(gradOutput.shape) does not match the conv output \(g.outputShape)")
    let gw = Tensor(uninitialized: weightShape)
    convBackwardWeight(g, gradOutput: gradOutput.base, input: input.base, gradWeight: gw.base)
    return gw
  }

  /// Per-channel sums of an [N, C, ...] tensor (a bias gradient), accumulated in double.
  static func channelSums(_ t: Tensor) -> Tensor {
    let n = t.shape[0], c = t.shape[1]
    let plane = t.count / Swift.max(1, n * c)
    let out = Tensor(uninitialized: [c])
    let src = t.base, dst = out.base
    Parallel.forRanges(c, grain: Swift.max(1, 65_536 / Swift.max(1, n * plane))) { channels in
      for ch in channels {
        var total = 0.0
        for s in 0..<n {
          let p = src + (s * c + ch) * plane
          // Float sums over short blocks keep the loop vectorizable; blocks add up in double.
          var i = 0
          while i < plane {
            let end = Swift.min(plane, i + 256)
            var block: Float = 0
            for k in i..<end { block += p[k] }
            total += Double(block)
            i = end
          }
        }
        dst[ch] = Float(total)
      }
    }
    return out
  }

  // MARK: Kernels on raw buffers

  /// output = conv(input, weight) + bias, all contiguous.
  static func convForward(
    _ g: ConvGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>
  ) {
    // Start from the bias (or zeros for the direct loops) and let the GEMMs accumulate.
    var beta: Float = 0
    if let bias {
      fillPlanes(output, planes: g.batch * g.outChannels, planeSize: g.outPlane) { bias[$0 % g.outChannels] }
      beta = 1
    } else if g.isDepthwise {
      fillPlanes(output, planes: g.batch * g.outChannels, planeSize: g.outPlane) { _ in 0 }
    }
    if g.isDepthwise {
      depthwiseForward(g, input: input, weight: weight, output: output)
      return
    }
    let (inPG, outPG) = (g.inPerGroup, g.outPerGroup)
    if g.isPointwise {
      for n in 0..<g.batch {
        for grp in 0..<g.groups {
          sgemm(transposeA: false, transposeB: false, m: outPG, n: g.outPlane, k: inPG,
                a: weight + grp * outPG * inPG, lda: inPG,
                b: input + (n * g.inChannels + grp * inPG) * g.inPlane, ldb: g.inPlane,
                beta: beta, c: output + (n * g.outChannels + grp * outPG) * g.outPlane, ldc: g.outPlane)
        }
      }
      return
    }
    let bandRows = g.bandRows
    let columns = UnsafeMutablePointer<Float>.allocate(capacity: g.patchSize * bandRows * g.outWidth)
    defer { columns.deallocate() }
    for n in 0..<g.batch {
      for grp in 0..<g.groups {
        let src = input + (n * g.inChannels + grp * inPG) * g.inPlane
        let dst = output + (n * g.outChannels + grp * outPG) * g.outPlane
        for top in stride(from: 0, to: g.outHeight, by: bandRows) {
          let rows = top..<Swift.min(g.outHeight, top + bandRows)
          let pixels = rows.count * g.outWidth
          im2col(g, input: src, rows: rows, columns: columns)
          sgemm(transposeA: false, transposeB: false, m: outPG, n: pixels, k: g.patchSize,
                a: weight + grp * outPG * g.patchSize, lda: g.patchSize, b: columns, ldb: pixels,
                beta: beta, c: dst + top * g.outWidth, ldc: g.outPlane)
        }
      }
    }
  }

  /// gradInput = convᵀ(gradOutput, weight); overwrites gradInput.
  static func convBackwardInput(
    _ g: ConvGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>
  ) {
    if g.isDepthwise {
      fillPlanes(gradInput, planes: g.batch * g.inChannels, planeSize: g.inPlane) { _ in 0 }
      depthwiseBackwardInput(g, gradOutput: gradOutput, weight: weight, gradInput: gradInput)
      return
    }
    let (inPG, outPG) = (g.inPerGroup, g.outPerGroup)
    if g.isPointwise {
      for n in 0..<g.batch {
        for grp in 0..<g.groups {
          sgemm(transposeA: true, transposeB: false, m: inPG, n: g.inPlane, k: outPG,
                a: weight + grp * outPG * inPG, lda: inPG,
                b: gradOutput + (n * g.outChannels + grp * outPG) * g.outPlane, ldb: g.outPlane,
                c: gradInput + (n * g.inChannels + grp * inPG) * g.inPlane, ldc: g.inPlane)
        }
      }
      return
    }
    let p = g.padding
    let (kh, kw) = (g.kernelHeight, g.kernelWidth)
    if g.stride == 1 && p.top < kh && p.bottom < kh && p.left < kw && p.right < kw {
      // With stride 1 the input gradient is itself a convolution of the output gradient with
      // the flipped, channel-transposed kernel and the complementary padding; that reuses the
      // forward path's large GEMMs instead of a col2im scatter.
      let flipped = UnsafeMutablePointer<Float>.allocate(capacity: g.outChannels * g.patchSize)
      defer { flipped.deallocate() }
      let taps = g.taps
      Parallel.forRanges(g.outChannels, grain: Swift.max(1, 16_384 / g.patchSize)) { outs in
        for o in outs {
          let grp = o / outPG, ol = o % outPG
          for cl in 0..<inPG {
            let src = weight + (o * inPG + cl) * taps
            let dst = flipped + ((grp * inPG + cl) * outPG + ol) * taps
            for t in 0..<taps { dst[taps - 1 - t] = src[t] }
          }
        }
      }
      let transposed = ConvGeometry(
        input: g.outputShape, weight: [g.inChannels, outPG, kh, kw], stride: 1,
        padding: ConvPadding(top: kh - 1 - p.top, bottom: kh - 1 - p.bottom, left: kw - 1 - p.left, right: kw - 1 - p.right),
        groups: g.groups, op: "conv2d backward")
      assert(transposed.outHeight == g.height && transposed.outWidth == g.width)
      convForward(transposed, input: gradOutput, weight: flipped, bias: nil, output: gradInput)
      return
    }
    fillPlanes(gradInput, planes: g.batch * g.inChannels, planeSize: g.inPlane) { _ in 0 }
    let bandRows = g.bandRows
    let columns = UnsafeMutablePointer<Float>.allocate(capacity: g.patchSize * bandRows * g.outWidth)
    defer { columns.deallocate() }
    for n in 0..<g.batch {
      for grp in 0..<g.groups {
        let src = gradOutput + (n * g.outChannels + grp * outPG) * g.outPlane
        let dst = gradInput + (n * g.inChannels + grp * inPG) * g.inPlane
        for top in stride(from: 0, to: g.outHeight, by: bandRows) {
          let rows = top..<Swift.min(g.outHeight, top + bandRows)
          let pixels = rows.count * g.outWidth
          sgemm(transposeA: true, transposeB: false, m: g.patchSize, n: pixels, k: outPG,
                a: weight + grp * outPG * g.patchSize, lda: g.patchSize,
                b: src + top * g.outWidth, ldb: g.outPlane, c: columns, ldc: pixels)
          col2imAdd(g, columns: columns, rows: rows, gradInput: dst)
        }
      }
    }
  }

  /// gradWeight = Σ over samples and pixels of gradOutput ⊗ unfolded input; overwrites it.
  static func convBackwardWeight(
    _ g: ConvGeometry, gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
    gradWeight: UnsafeMutablePointer<Float>
  ) {
    if g.isDepthwise {
      depthwiseBackwardWeight(g, gradOutput: gradOutput, input: input, gradWeight: gradWeight)
      return
    }
    let (inPG, outPG) = (g.inPerGroup, g.outPerGroup)
    if g.batch == 0 || g.outPlane == 0 {
      gradWeight.update(repeating: 0, count: g.outChannels * g.patchSize)
      return
    }
    if g.isPointwise {
      for n in 0..<g.batch {
        for grp in 0..<g.groups {
          sgemm(transposeA: false, transposeB: true, m: outPG, n: inPG, k: g.inPlane,
                a: gradOutput + (n * g.outChannels + grp * outPG) * g.outPlane, lda: g.outPlane,
                b: input + (n * g.inChannels + grp * inPG) * g.inPlane, ldb: g.inPlane,
                beta: n == 0 ? 0 : 1, c: gradWeight + grp * outPG * inPG, ldc: inPG)
        }
      }
      return
    }
    let bandRows = g.bandRows
    let columns = UnsafeMutablePointer<Float>.allocate(capacity: g.patchSize * bandRows * g.outWidth)
    defer { columns.deallocate() }
    for n in 0..<g.batch {
      for grp in 0..<g.groups {
        let src = input + (n * g.inChannels + grp * inPG) * g.inPlane
        let grad = gradOutput + (n * g.outChannels + grp * outPG) * g.outPlane
        for top in stride(from: 0, to: g.outHeight, by: bandRows) {
          let rows = top..<Swift.min(g.outHeight, top + bandRows)
          let pixels = rows.count * g.outWidth
          im2col(g, input: src, rows: rows, columns: columns)
          sgemm(transposeA: false, transposeB: true, m: outPG, n: g.patchSize, k: pixels,
                a: grad + top * g.outWidth, lda: g.outPlane, b: columns, ldb: pixels,
                beta: (n == 0 && top == 0) ? 0 : 1, c: gradWeight + grp * outPG * g.patchSize, ldc: g.patchSize)
        }
      }
    }
  }

  /// Fills each plane of `count` planes with one value per plane, in parallel.
  static func fillPlanes(
    _ p: UnsafeMutablePointer<Float>, planes: Int, planeSize: Int, value: (Int) -> Float
  ) {
    Parallel.forRanges(planes, grain: Swift.max(1, 65_536 / Swift.max(1, planeSize))) { range in
      for plane in range { (p + plane * planeSize).update(repeating: value(plane), count: planeSize) }
    }
  }

  /// Unfolds output rows `rows` of one sample's group of channels into `columns`, laid out
  /// [patchSize, rows.count·Wo] with patch row r = (c·kh + i)·kw + j. Parallel over patch rows.
  static func im2col(
    _ g: ConvGeometry, input: UnsafePointer<Float>, rows: Range<Int>, columns: UnsafeMutablePointer<Float>
  ) {
    let (kh, kw, s, wo) = (g.kernelHeight, g.kernelWidth, g.stride, g.outWidth)
    let (h, w, top, left) = (g.height, g.width, g.padding.top, g.padding.left)
    let pixels = rows.count * wo
    Parallel.forRanges(g.patchSize, grain: Swift.max(1, 16_384 / Swift.max(1, pixels))) { patchRows in
      for r in patchRows {
        let c = r / (kh * kw), i = (r / kw) % kh, j = r % kw
        let plane = input + c * h * w
        let valid = g.validColumns(tap: j)
        var dst = columns + r * pixels
        for oy in rows {
          let iy = oy * s - top + i
          if iy < 0 || iy >= h || valid.isEmpty {
            dst.update(repeating: 0, count: wo)
          } else {
            if valid.lowerBound > 0 { dst.update(repeating: 0, count: valid.lowerBound) }
            let srcRow = plane + iy * w + j - left
            if s == 1 {
              (dst + valid.lowerBound).update(from: srcRow + valid.lowerBound, count: valid.count)
            } else {
              for ox in valid { dst[ox] = srcRow[ox * s] }
            }
            if valid.upperBound < wo { (dst + valid.upperBound).update(repeating: 0, count: wo - valid.upperBound) }
          }
          dst += wo
        }
      }
    }
  }

  /// The adjoint of `im2col`: adds `columns` back into the input-shaped `gradInput`.
  /// Parallel over channels, each of which only receives its own patch rows.
  static func col2imAdd(
    _ g: ConvGeometry, columns: UnsafePointer<Float>, rows: Range<Int>, gradInput: UnsafeMutablePointer<Float>
  ) {
    let (kh, kw, s, wo) = (g.kernelHeight, g.kernelWidth, g.stride, g.outWidth)
    let (h, w, top, left) = (g.height, g.width, g.padding.top, g.padding.left)
    let pixels = rows.count * wo
    Parallel.forRanges(g.inPerGroup, grain: Swift.max(1, 16_384 / Swift.max(1, pixels * kh * kw))) { channels in
      for c in channels {
        let plane = gradInput + c * h * w
        for i in 0..<kh {
          for j in 0..<kw {
            let valid = g.validColumns(tap: j)
            if valid.isEmpty { continue }
            var src = columns + ((c * kh + i) * kw + j) * pixels
            for oy in rows {
              let iy = oy * s - top + i
              if iy >= 0 && iy < h {
                let dstRow = plane + iy * w + j - left
                if s == 1 {
                  for ox in valid { dstRow[ox] += src[ox] }
                } else {
                  for ox in valid { dstRow[ox * s] += src[ox] }
                }
              }
              src += wo
            }
          }
        }
      }
    }
  }

  // MARK: Depthwise (one input and one output channel per group)

  /// Adds the depthwise convolution into `output`.
  static func depthwiseForward(
    _ g: ConvGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>
  ) {
    let (kh, kw, s, c) = (g.kernelHeight, g.kernelWidth, g.stride, g.inChannels)
    let (w, wo, top, left) = (g.width, g.outWidth, g.padding.top, g.padding.left)
    Parallel.forRanges(g.batch * c, grain: Swift.max(1, 16_384 / Swift.max(1, g.outPlane * kh * kw))) { planes in
      for plane in planes {
        let src = input + plane * g.inPlane, dst = output + plane * g.outPlane
        let kernel = weight + (plane % c) * kh * kw
        for i in 0..<kh {
          for j in 0..<kw {
            let tap = kernel[i * kw + j]
            let cols = g.validColumns(tap: j)
            for oy in g.validRows(tap: i) {
              let srcRow = src + (oy * s - top + i) * w + j - left, dstRow = dst + oy * wo
              if s == 1 {
                for ox in cols { dstRow[ox] += tap * srcRow[ox] }
              } else {
                for ox in cols { dstRow[ox] += tap * srcRow[ox * s] }
              }
            }
          }
        }
      }
    }
  }

  /// Adds the depthwise input gradient into `gradInput`.
  static func depthwiseBackwardInput(
    _ g: ConvGeometry, gradOutput: UnsafePointer<Float>, weight: UnsafePointer<Float>,
    gradInput: UnsafeMutablePointer<Float>
  ) {
    let (kh, kw, s, c) = (g.kernelHeight, g.kernelWidth, g.stride, g.inChannels)
    let (w, wo, top, left) = (g.width, g.outWidth, g.padding.top, g.padding.left)
    Parallel.forRanges(g.batch * c, grain: Swift.max(1, 16_384 / Swift.max(1, g.outPlane * kh * kw))) { planes in
      for plane in planes {
        let grad = gradOutput + plane * g.outPlane, dst = gradInput + plane * g.inPlane
        let kernel = weight + (plane % c) * kh * kw
        for i in 0..<kh {
          for j in 0..<kw {
            let tap = kernel[i * kw + j]
            let cols = g.validColumns(tap: j)
            for oy in g.validRows(tap: i) {
              let dstRow = dst + (oy * s - top + i) * w + j - left, gradRow = grad + oy * wo
              if s == 1 {
                for ox in cols { dstRow[ox] += tap * gradRow[ox] }
              } else {
                for ox in cols { dstRow[ox * s] += tap * gradRow[ox] }
              }
            }
          }
        }
      }
    }
  }

  /// Writes the depthwise weight gradient; parallel over channels, summing over samples.
  static func depthwiseBackwardWeight(
    _ g: ConvGeometry, gradOutput: UnsafePointer<Float>, input: UnsafePointer<Float>,
    gradWeight: UnsafeMutablePointer<Float>
  ) {
    let (kh, kw, s, c) = (g.kernelHeight, g.kernelWidth, g.stride, g.inChannels)
    let (w, wo, top, left) = (g.width, g.outWidth, g.padding.top, g.padding.left)
    Parallel.forRanges(c, grain: Swift.max(1, 16_384 / Swift.max(1, g.batch * g.outPlane * kh * kw))) { channels in
      for ch in channels {
        for i in 0..<kh {
          for j in 0..<kw {
            let cols = g.validColumns(tap: j)
            var total = 0.0
            for n in 0..<g.batch {
              let plane = n * c + ch
              let src = input + plane * g.inPlane, grad = gradOutput + plane * g.outPlane
              for oy in g.validRows(tap: i) {
                let srcRow = src + (oy * s - top + i) * w + j - left, gradRow = grad + oy * wo
                var rowSum: Float = 0
                if s == 1 {
                  for ox in cols { rowSum += gradRow[ox] * srcRow[ox] }
                } else {
                  for ox in cols { rowSum += gradRow[ox] * srcRow[ox * s] }
                }
                total += Double(rowSum)
              }
            }
            gradWeight[ch * kh * kw + i * kw + j] = Float(total)
          }
        }
      }
    }
  }
}
