// Image resizing with PyTorch's F.interpolate semantics ('nearest' and 'bilinear', no
// antialiasing). Source coordinates are computed in float32 exactly as PyTorch's CPU kernels
// do, so indices agree at the rounding boundaries too.

/// For each output index along one axis: two source indices and their weights.
struct LinearTaps {
  var first: [Int32] = [], second: [Int32] = []
  var firstWeight: [Float] = [], secondWeight: [Float] = []

  /// Bilinear (per axis linear) taps.
  init(inputSize: Int, outputSize: Int, alignCorners: Bool) {
    let scale: Float = alignCorners
      ? (outputSize > 1 ? Float(inputSize - 1) / Float(outputSize - 1) : 0)
      : Float(inputSize) / Float(outputSize)
    for o in 0..<outputSize {
      if inputSize == outputSize {
        append(o, o, 1, 0)
        continue
      }
      var source = alignCorners ? scale * Float(o) : scale * (Float(o) + 0.5) - 0.5
      if source < 0 { source = 0 }  // PyTorch clamps negative coordinates (half-pixel mode)
      let index = Swift.min(Int(source.rounded(.down)), inputSize - 1)
      let lambda = Swift.min(Swift.max(source - Float(index), 0), 1)
      append(index, index < inputSize - 1 ? index + 1 : index, 1 - lambda, lambda)
    }
  }

  /// Nearest taps: `floor(o · in / out)` in float32, clamped to the input.
  init(nearestFrom inputSize: Int, outputSize: Int) {
    let scale = Float(inputSize) / Float(outputSize)
    for o in 0..<outputSize {
      let index: Int
      if outputSize == inputSize {
        index = o
      } else if outputSize == 2 * inputSize {
        index = o >> 1
      } else {
        index = Swift.min(Int((Float(o) * scale).rounded(.down)), inputSize - 1)
      }
      append(index, index, 1, 0)
    }
  }

  private mutating func append(_ a: Int, _ b: Int, _ wa: Float, _ wb: Float) {
    first.append(Int32(a)); second.append(Int32(b))
    firstWeight.append(wa); secondWeight.append(wb)
  }
}

extension Tensor {
  /// Nearest-neighbour resize of [N, C, H, W] (PyTorch `mode='nearest'`: source index
  /// `floor(dst · in / out)`). The gradient sums each output's gradient into its source pixel.
  public func resizeNearest(to size: (height: Int, width: Int)) -> Tensor {
    precondition(rank == 4, "resizeNearest: input must be [N, C, H, W], got \(shape)")
    precondition(size.height > 0 && size.width > 0, "resizeNearest: empty target size \(size)")
    return Tensor.resize(self, rows: LinearTaps(nearestFrom: shape[2], outputSize: size.height),
                         cols: LinearTaps(nearestFrom: shape[3], outputSize: size.width))
  }

  /// Bilinear resize of [N, C, H, W] (PyTorch `mode='bilinear'`, no antialiasing). Without
  /// `alignCorners` pixel centers are aligned (source `(dst + 0.5)·in/out − 0.5`, clamped at 0);
  /// with it the corner pixels are.
  public func resizeBilinear(to size: (height: Int, width: Int), alignCorners: Bool) -> Tensor {
    precondition(rank == 4, "resizeBilinear: input must be [N, C, H, W], got \(shape)")
    precondition(size.height > 0 && size.width > 0, "resizeBilinear: empty target size \(size)")
    return Tensor.resize(self, rows: LinearTaps(inputSize: shape[2], outputSize: size.height, alignCorners: alignCorners),
                         cols: LinearTaps(inputSize: shape[3], outputSize: size.width, alignCorners: alignCorners))
  }

  /// out[y, x] = Σ over row taps a and column taps b of weight_a · weight_b · in[a, b].
  static func resize(_ x: Tensor, rows: LinearTaps, cols: LinearTaps) -> Tensor {
    let (h, w, ho, wo) = (x.shape[2], x.shape[3], rows.first.count, cols.first.count)
    let planes = x.shape[0] * x.shape[1]
    let out = Tensor(uninitialized: [x.shape[0], x.shape[1], ho, wo])
    let grain = Swift.max(1, 16_384 / Swift.max(1, ho * wo))
    let src = x.base, dst = out.base
    withTaps(rows, cols) { r0, r1, rw0, rw1, c0, c1, cw0, cw1 in
      Parallel.forRanges(planes, grain: grain) { range in
        for plane in range {
          let image = src + plane * h * w, result = dst + plane * ho * wo
          for oy in 0..<ho {
            let top = image + Int(r0[oy]) * w, bottom = image + Int(r1[oy]) * w
            let (wt, wb) = (rw0[oy], rw1[oy])
            let outRow = result + oy * wo
            for ox in 0..<wo {
              let (a, b) = (Int(c0[ox]), Int(c1[ox]))
              outRow[ox] = wt * (cw0[ox] * top[a] + cw1[ox] * top[b]) + wb * (cw0[ox] * bottom[a] + cw1[ox] * bottom[b])
            }
          }
        }
      }
    }
    let inputShape = x.shape
    return record(out, input: x) { g in
      let gx = Tensor(zeros: inputShape)
      let gsrc = g.base, gdst = gx.base
      withTaps(rows, cols) { r0, r1, rw0, rw1, c0, c1, cw0, cw1 in
        Parallel.forRanges(planes, grain: grain) { range in
          for plane in range {
            let grad = gsrc + plane * ho * wo, result = gdst + plane * h * w
            for oy in 0..<ho {
              let top = result + Int(r0[oy]) * w, bottom = result + Int(r1[oy]) * w
              let (wt, wb) = (rw0[oy], rw1[oy])
              let gradRow = grad + oy * wo
              for ox in 0..<wo {
                let (a, b) = (Int(c0[ox]), Int(c1[ox]))
                let gv = gradRow[ox]
                top[a] += wt * cw0[ox] * gv
                top[b] += wt * cw1[ox] * gv
                bottom[a] += wb * cw0[ox] * gv
                bottom[b] += wb * cw1[ox] * gv
              }
            }
          }
        }
      }
      return gx
    }
  }

  private static func withTaps(
    _ rows: LinearTaps, _ cols: LinearTaps,
    _ body: (UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>,
             UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) -> Void
  ) {
    rows.first.withUnsafeBufferPointer { r0 in rows.second.withUnsafeBufferPointer { r1 in
    rows.firstWeight.withUnsafeBufferPointer { rw0 in rows.secondWeight.withUnsafeBufferPointer { rw1 in
    cols.first.withUnsafeBufferPointer { c0 in cols.second.withUnsafeBufferPointer { c1 in
    cols.firstWeight.withUnsafeBufferPointer { cw0 in cols.secondWeight.withUnsafeBufferPointer { cw1 in
      body(r0, r1, rw0, rw1, c0, c1, cw0, cw1)
    } } } } } } } }
  }
}
