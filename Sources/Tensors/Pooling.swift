// 2-D average and max pooling with PyTorch's semantics (square windows, dilation 1).

/// The windows of one pooling call along one axis.
struct PoolAxis {
  let inputSize: Int, kernel: Int, stride: Int, padding: Int
  let outputSize: Int

  init(inputSize: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool, op: String) {
    precondition(kernel >= 1 && stride >= 1, "\(op): kernel (\(kernel)) and stride (\(stride)) must be at least 1")
    precondition(padding >= 0 && padding <= kernel / 2,
                 "\(op): padding \(padding) must be between 0 and half the kernel (\(kernel / 2))")
    let span = inputSize + 2 * padding - kernel
    precondition(span >= 0, "\(op): kernel \(kernel) larger than the padded input \(inputSize + 2 * padding)")
    var out = (ceilMode ? span + stride - 1 : span) / stride + 1
    // As PyTorch: in ceil mode the last window must start inside the input or its left padding.
    if ceilMode && (out - 1) * stride >= inputSize + padding { out -= 1 }
    (self.inputSize, self.kernel, self.stride, self.padding, outputSize) = (inputSize, kernel, stride, padding, out)
  }

  /// Window `o` as (start, end) before clipping to the input, limited to the padded extent.
  @inline(__always) func paddedWindow(_ o: Int) -> (Int, Int) {
    let start = o * stride - padding
    return (start, Swift.min(start + kernel, inputSize + padding))
  }

  /// Window `o` clipped to the input.
  @inline(__always) func window(_ o: Int) -> Range<Int> {
    let (start, end) = paddedWindow(o)
    return Swift.max(start, 0)..<Swift.min(end, inputSize)
  }
}

extension Tensor {
  /// Average pooling over [N, C, H, W] (PyTorch `avg_pool2d`). `stride` defaults to `kernel`.
  /// With `countIncludePad` the divisor counts padded positions (but not the extra positions a
  /// ceil-mode window hangs past the padding).
  public func avgPool2d(
    kernel: Int, stride: Int? = nil, padding: Int = 0, countIncludePad: Bool = true, ceilMode: Bool = false
  ) -> Tensor {
    precondition(rank == 4, "avgPool2d: input must be [N, C, H, W], got \(shape)")
    let stride = stride ?? kernel
    let rows = PoolAxis(inputSize: shape[2], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, op: "avgPool2d")
    let cols = PoolAxis(inputSize: shape[3], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, op: "avgPool2d")
    let (h, w, ho, wo) = (shape[2], shape[3], rows.outputSize, cols.outputSize)
    let planes = shape[0] * shape[1]
    // Per-window reciprocal divisors, shared by every plane and by the backward pass.
    var inverseDivisor = [Float](repeating: 0, count: ho * wo)
    for oy in 0..<ho {
      for ox in 0..<wo {
        let count: Int
        if countIncludePad {
          let (r0, r1) = rows.paddedWindow(oy), (c0, c1) = cols.paddedWindow(ox)
          count = (r1 - r0) * (c1 - c0)
        } else {
          count = rows.window(oy).count * cols.window(ox).count
        }
        inverseDivisor[oy * wo + ox] = count > 0 ? 1 / Float(count) : 0
      }
    }
    let out = Tensor(uninitialized: [shape[0], shape[1], ho, wo])
    let src = base, dst = out.base
    let grain = Swift.max(1, 16_384 / Swift.max(1, ho * wo * kernel))
    inverseDivisor.withUnsafeBufferPointer { divisor in
      Parallel.forRanges(planes, grain: grain) { range in
        for plane in range {
          let image = src + plane * h * w, result = dst + plane * ho * wo
          for oy in 0..<ho {
            let windowRows = rows.window(oy)
            for ox in 0..<wo {
              let windowCols = cols.window(ox)
              var sum: Float = 0
              for iy in windowRows {
                for ix in windowCols { sum += image[iy * w + ix] }
              }
              result[oy * wo + ox] = sum * divisor[oy * wo + ox]
            }
          }
        }
      }
    }
    let inputShape = shape
    return Tensor.record(out, input: self) { g in
      let gx = Tensor(zeros: inputShape)
      let gsrc = g.base, gdst = gx.base
      inverseDivisor.withUnsafeBufferPointer { divisor in
        Parallel.forRanges(planes, grain: grain) { range in
          for plane in range {
            let grad = gsrc + plane * ho * wo, result = gdst + plane * h * w
            for oy in 0..<ho {
              let windowRows = rows.window(oy)
              for ox in 0..<wo {
                let windowCols = cols.window(ox)
                let share = grad[oy * wo + ox] * divisor[oy * wo + ox]
                for iy in windowRows {
                  for ix in windowCols { result[iy * w + ix] += share }
                }
              }
            }
          }
        }
      }
      return gx
    }
  }

  /// Max pooling over [N, C, H, W] (PyTorch `max_pool2d`; padding acts as −∞). `stride`
  /// defaults to `kernel`. The gradient goes to the first maximum of each window (row-major,
  /// as PyTorch); a NaN in a window wins over any number.
  public func maxPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) -> Tensor {
    precondition(rank == 4, "maxPool2d: input must be [N, C, H, W], got \(shape)")
    let stride = stride ?? kernel
    let rows = PoolAxis(inputSize: shape[2], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, op: "maxPool2d")
    let cols = PoolAxis(inputSize: shape[3], kernel: kernel, stride: stride, padding: padding, ceilMode: ceilMode, op: "maxPool2d")
    let (h, w, ho, wo) = (shape[2], shape[3], rows.outputSize, cols.outputSize)
    let planes = shape[0] * shape[1]
    let out = Tensor(uninitialized: [shape[0], shape[1], ho, wo])
    // Index of each output's maximum within its input plane, for the backward pass.
    let argmax = UnsafeMutablePointer<Int32>.allocate(capacity: Swift.max(1, planes * ho * wo))
    let src = base, dst = out.base
    let grain = Swift.max(1, 16_384 / Swift.max(1, ho * wo * kernel))
    Parallel.forRanges(planes, grain: grain) { range in
      for plane in range {
        let image = src + plane * h * w, result = dst + plane * ho * wo, index = argmax + plane * ho * wo
        for oy in 0..<ho {
          let windowRows = rows.window(oy)
          for ox in 0..<wo {
            let windowCols = cols.window(ox)
            var best = -Float.infinity
            var bestIndex = windowRows.lowerBound * w + windowCols.lowerBound
            for iy in windowRows {
              for ix in windowCols {
                let v = image[iy * w + ix]
                if v > best || v.isNaN {
                  best = v
                  bestIndex = iy * w + ix
                  if v.isNaN { break }
                }
              }
              if best.isNaN { break }
            }
            result[oy * wo + ox] = best
            index[oy * wo + ox] = Int32(bestIndex)
          }
        }
      }
    }
    let positions = ArgmaxBuffer(argmax)
    let inputShape = shape
    return Tensor.record(out, input: self) { g in
      let gx = Tensor(zeros: inputShape)
      let gsrc = g.base, gdst = gx.base, index = positions.pointer
      Parallel.forRanges(planes, grain: grain) { range in
        for plane in range {
          let grad = gsrc + plane * ho * wo, result = gdst + plane * h * w, at = index + plane * ho * wo
          for o in 0..<(ho * wo) { result[Int(at[o])] += grad[o] }
        }
      }
      return gx
    }
  }
}

/// Owns max pooling's argmax indices for as long as the backward closure may need them.
final class ArgmaxBuffer: @unchecked Sendable {
  // @unchecked: written once before it is shared, read-only afterwards.
  let pointer: UnsafeMutablePointer<Int32>
  init(_ pointer: UnsafeMutablePointer<Int32>) { self.pointer = pointer }
  deinit { pointer.deallocate() }
}
