// Transposed 2-D convolution (PyTorch's conv_transpose2d, groups 1, dilation 1).
//
// A transposed convolution is the input gradient of the convolution that maps its output back
// to its input with the same weight, stride and padding; so its forward pass is
// `convBackwardInput` (GEMM + col2im), its input gradient is that convolution's forward pass,
// and its weight gradient is that convolution's weight gradient with the roles swapped.

extension Tensor {
  /// The convolution whose input gradient a transposed convolution is: from the output
  /// [N, Cout, height, width] back to x's shape, with weight [Cin, Cout, kh, kw] read as
  /// [its Cout, its Cin, kh, kw].
  static func transposedGeometry(_ x: Tensor, weight: Tensor, stride: Int, padding: Int, outputPadding: Int) -> ConvGeometry {
    precondition(x.rank == 4 && weight.rank == 4 && weight.shape[0] == x.shape[1],
                 "conv2dTransposed: input \(x.shape) needs weight [\(x.rank == 4 ? x.shape[1] : 0), Cout, kh, kw], got \(weight.shape)")
    precondition(outputPadding >= 0 && outputPadding < stride,
                 "conv2dTransposed: outputPadding \(outputPadding) must be in 0..<stride (\(stride))")
    let (n, outChannels, kh, kw) = (x.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
    let height = (x.shape[2] - 1) * stride - 2 * padding + kh + outputPadding
    let width = (x.shape[3] - 1) * stride - 2 * padding + kw + outputPadding
    precondition(height > 0 && width > 0, "conv2dTransposed: padding \(padding) leaves an empty output for input \(x.shape)")
    let g = ConvGeometry(input: [n, outChannels, height, width], weight: weight.shape, stride: stride,
                         padding: ConvPadding(padding), groups: 1, op: "conv2dTransposed")
    precondition(g.outHeight == x.shape[2] && g.outWidth == x.shape[3], "conv2dTransposed: inconsistent sizes")
    return g
  }

  /// `x` [N, Cin, H, W], `weight` [Cin, Cout, kh, kw], `bias` [Cout]; the output is
  /// [N, Cout, (H−1)·stride − 2·padding + kh + outputPadding, (same for W)].
  /// `outputPadding` (< stride) adds rows and columns at the bottom and right.
  public static func conv2dTransposed(
    _ x: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0, outputPadding: Int = 0
  ) -> Tensor {
    let g = transposedGeometry(x, weight: weight, stride: stride, padding: padding, outputPadding: outputPadding)
    let (n, outChannels) = (x.shape[0], weight.shape[1])
    if let bias {
      precondition(bias.shape == [outChannels], "conv2dTransposed: bias must be [\(outChannels)], got \(bias.shape)")
    }
    let out = Tensor(uninitialized: g.inputShape)
    convBackwardInput(g, gradOutput: x.base, weight: weight.base, gradInput: out.base)
    if let bias {
      let b = bias.base, o = out.base, plane = g.inPlane
      Parallel.forRanges(n * outChannels, grain: Swift.max(1, 65_536 / Swift.max(1, plane))) { planes in
        for p in planes {
          let value = b[p % outChannels], dst = o + p * plane
          for k in 0..<plane { dst[k] += value }
        }
      }
    }

    let x0 = x.detached(), w0 = weight.detached()
    let needInput = x.node != nil, needWeight = weight.node != nil, needBias = bias?.node != nil
    let hasBias = bias != nil
    return record(out, inputs: bias.map { [x, weight, $0] } ?? [x, weight]) { gradOut in
      var grads: [Tensor?] = [nil, nil]
      if needInput {
        let gx = Tensor(uninitialized: x0.shape)
        convForward(g, input: gradOut.base, weight: w0.base, bias: nil, output: gx.base)
        grads[0] = gx
      }
      if needWeight {
        let gw = Tensor(uninitialized: w0.shape)
        convBackwardWeight(g, gradOutput: x0.base, input: gradOut.base, gradWeight: gw.base)
        grads[1] = gw
      }
      if hasBias { grads.append(needBias ? channelSums(gradOut) : nil) }
      return grads
    }
  }
}
