// StyleGAN2's upfirdn2d: upsample by zero insertion, pad (negative pads crop), convolve with a
// 2-D FIR kernel (a true convolution, i.e. the kernel flipped), then keep every `down`-th
// sample. Semantics follow `upfirdn2d_native` in rosinality/stylegan2-pytorch.
//
// Each output sample only meets the taps that land on non-inserted input samples, so the op
// is evaluated through per-axis tap lists rather than by materializing the zero-stuffed image.

/// For each output index along one axis, the input samples it reads and the kernel entries that
/// weigh them, in compressed rows: entries `start[o]..<start[o + 1]`.
struct FIRTaps {
  var start: [Int32]
  var input: [Int32]
  var kernel: [Int32]
  let outputSize: Int

  init(inputSize: Int, up: Int, down: Int, padBefore: Int, padAfter: Int, kernelSize: Int, op: String) {
    let padded = inputSize * up + padBefore + padAfter
    precondition(padded >= kernelSize,
                 "\(op): the padded size \(padded) is smaller than the kernel (\(kernelSize)); check the pads")
    outputSize = (padded - kernelSize) / down + 1
    start = [0]
    input = []
    kernel = []
    start.reserveCapacity(outputSize + 1)
    for o in 0..<outputSize {
      for t in 0..<kernelSize {
        // Position in the zero-stuffed, uncropped signal; only multiples of `up` hold samples.
        let u = o * down + t - padBefore
        if u >= 0 && u < inputSize * up && u % up == 0 {
          input.append(Int32(u / up))
          kernel.append(Int32(kernelSize - 1 - t))  // flipped: the FIR filter is convolved
        }
      }
      start.append(Int32(input.count))
    }
  }
}

/// The row and column taps of one upfirdn2d call, applied to whole planes.
/// One kernel column's contribution along a row: output samples `firstOutput + t·outputStep`
/// read input samples `firstInput + t·inputStep`, for t in 0..<count. Zero insertion and
/// subsampling make every column tap such an arithmetic progression, so each tap is one
/// (strided) multiply-add sweep — contiguous, and vectorized, when up = down = 1.
struct FIRColumnTap {
  let kernelIndex: Int
  let firstOutput: Int, outputStep: Int
  let firstInput: Int, inputStep: Int
  let count: Int

  static func taps(inputSize: Int, outputSize: Int, up: Int, down: Int, padBefore: Int, kernelSize: Int) -> [FIRColumnTap] {
    func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
    let g = gcd(up, down)
    let outputStep = up / g, inputStep = down / g
    var taps: [FIRColumnTap] = []
    for j in 0..<kernelSize {
      // u(o) = o·down + j − padBefore is the zero-stuffed position output o reads with tap j;
      // it holds a sample when u ≡ 0 (mod up), which recurs every `outputStep` outputs.
      guard var first = (0..<Swift.min(outputStep, outputSize)).first(where: {
        (($0 * down + j - padBefore) % up + up) % up == 0
      }) else { continue }
      var u = first * down + j - padBefore
      if u < 0 {
        let advance = outputStep * down  // u grows by this per step
        let steps = (-u + advance - 1) / advance
        first += steps * outputStep
        u += steps * advance
      }
      let firstInput = u / up
      guard first < outputSize && firstInput < inputSize else { continue }
      let count = Swift.min((outputSize - first + outputStep - 1) / outputStep,
                            (inputSize - firstInput + inputStep - 1) / inputStep)
      taps.append(FIRColumnTap(kernelIndex: kernelSize - 1 - j, firstOutput: first, outputStep: outputStep,
                               firstInput: firstInput, inputStep: inputStep, count: count))
    }
    return taps
  }
}

/// The row and column taps of one upfirdn2d call, applied to whole planes.
struct UpFirDnPlan {
  let rows: FIRTaps
  let cols: [FIRColumnTap]
  let height: Int, width: Int, outWidth: Int
  let kernel: Tensor
  /// kernel[i][j] = rows[i]·columns[j] when the kernel is separable (rank 1, like StyleGAN2's
  /// [1,3,3,1] blur): then the op runs as a row pass and a column pass, kh + kw multiply-adds
  /// per sample instead of kh·kw.
  let separable: (rows: [Float], columns: [Float])?

  /// The factors of a rank-1 kernel [kh, kw], or nil when it is not one (to float rounding).
  static func separableFactors(_ kernel: Tensor) -> (rows: [Float], columns: [Float])? {
    let (kh, kw) = (kernel.shape[0], kernel.shape[1])
    let k = kernel.scalars
    guard let pivot = k.indices.max(by: { Swift.abs(k[$0]) < Swift.abs(k[$1]) }), k[pivot] != 0 else { return nil }
    let (pi, pj) = (pivot / kw, pivot % kw)
    let rows = (0..<kh).map { k[$0 * kw + pj] }
    let columns = (0..<kw).map { k[pi * kw + $0] / k[pivot] }
    let tolerance = 1e-6 * Swift.abs(k[pivot])
    for i in 0..<kh {
      for j in 0..<kw where Swift.abs(k[i * kw + j] - rows[i] * columns[j]) > tolerance { return nil }
    }
    return (rows, columns)
  }

  /// Forward: `destination` planes [ho, wo] from `source` planes [h, w]. Adjoint: adds the
  /// gradient planes `source` [ho, wo] back into `destination` [h, w] (which must start zeroed).
  func run(planes: Int, source: UnsafePointer<Float>, destination: UnsafeMutablePointer<Float>, adjoint: Bool) {
    if let separable {
      runSeparable(planes: planes, rowWeights: separable.rows, columnWeights: separable.columns,
                   source: source, destination: destination, adjoint: adjoint)
      return
    }
    let (h, w, ho, wo, kw) = (height, width, rows.outputSize, outWidth, kernel.shape[1])
    let k = kernel.base
    let grain = Swift.max(1, 16_384 / Swift.max(1, ho * wo))
    rows.start.withUnsafeBufferPointer { rowStart in rows.input.withUnsafeBufferPointer { rowInput in
    rows.kernel.withUnsafeBufferPointer { rowKernel in cols.withUnsafeBufferPointer { colTaps in
      Parallel.forRanges(planes, grain: grain) { range in
        for plane in range {
          // Offsets of this plane in the input-shaped and output-shaped buffers.
          let inputPlane = plane * h * w, outputPlane = plane * ho * wo
          for oy in 0..<ho {
            if !adjoint { (destination + outputPlane + oy * wo).update(repeating: 0, count: wo) }
            for e in Int(rowStart[oy])..<Int(rowStart[oy + 1]) {
              let kernelRow = k + Int(rowKernel[e]) * kw
              let imageRow = Int(rowInput[e]) * w
              for tap in colTaps {
                let weight = kernelRow[tap.kernelIndex]
                if adjoint {
                  // Every output sample sends its gradient back along the taps it read.
                  let gradRow = source + outputPlane + oy * wo + tap.firstOutput
                  let inRow = destination + inputPlane + imageRow + tap.firstInput
                  let (so, si) = (tap.outputStep, tap.inputStep)
                  if so == 1 && si == 1 {
                    for t in 0..<tap.count { inRow[t] += weight * gradRow[t] }
                  } else {
                    for t in 0..<tap.count { inRow[t * si] += weight * gradRow[t * so] }
                  }
                } else {
                  let inRow = source + inputPlane + imageRow + tap.firstInput
                  let outRow = destination + outputPlane + oy * wo + tap.firstOutput
                  let (so, si) = (tap.outputStep, tap.inputStep)
                  if so == 1 && si == 1 {
                    for t in 0..<tap.count { outRow[t] += weight * inRow[t] }
                  } else {
                    for t in 0..<tap.count { outRow[t * so] += weight * inRow[t * si] }
                  }
                }
              }
            }
          }
        }
      }
    } } } }
  }

  /// The separable form: each plane's input rows are filtered along x into a scratch of
  /// [h, wo] (cache-sized for every StyleGAN2 layer), then output rows are weighted sums of
  /// scratch rows. The adjoint runs the same two passes transposed, in reverse order.
  func runSeparable(planes: Int, rowWeights: [Float], columnWeights: [Float], source: UnsafePointer<Float>,
                    destination: UnsafeMutablePointer<Float>, adjoint: Bool) {
    let (h, w, ho, wo) = (height, width, rows.outputSize, outWidth)
    let grain = Swift.max(1, 16_384 / Swift.max(1, ho * wo))
    rows.start.withUnsafeBufferPointer { rowStart in rows.input.withUnsafeBufferPointer { rowInput in
    rows.kernel.withUnsafeBufferPointer { rowKernel in cols.withUnsafeBufferPointer { colTaps in
    rowWeights.withUnsafeBufferPointer { rw in columnWeights.withUnsafeBufferPointer { cw in
      Parallel.forRanges(planes, grain: grain) { range in
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, h * wo))
        defer { scratch.deallocate() }
        for plane in range {
          let inputPlane = plane * h * w, outputPlane = plane * ho * wo
          if !adjoint {
            // Along x: scratch[r] = the filtered input row r.
            for r in 0..<h {
              let tmp = scratch + r * wo, inRow = source + inputPlane + r * w
              tmp.update(repeating: 0, count: wo)
              for tap in colTaps {
                let weight = cw[tap.kernelIndex]
                let src = inRow + tap.firstInput, dst = tmp + tap.firstOutput
                let (so, si) = (tap.outputStep, tap.inputStep)
                if so == 1 && si == 1 {
                  for t in 0..<tap.count { dst[t] += weight * src[t] }
                } else {
                  for t in 0..<tap.count { dst[t * so] += weight * src[t * si] }
                }
              }
            }
            // Along y: each output row is a weighted sum of filtered rows.
            for oy in 0..<ho {
              let out = destination + outputPlane + oy * wo
              let (lo, hi) = (Int(rowStart[oy]), Int(rowStart[oy + 1]))
              if hi - lo == 4 {
                let (a0, a1, a2, a3) = (rw[Int(rowKernel[lo])], rw[Int(rowKernel[lo + 1])],
                                        rw[Int(rowKernel[lo + 2])], rw[Int(rowKernel[lo + 3])])
                let r0 = scratch + Int(rowInput[lo]) * wo, r1 = scratch + Int(rowInput[lo + 1]) * wo
                let r2 = scratch + Int(rowInput[lo + 2]) * wo, r3 = scratch + Int(rowInput[lo + 3]) * wo
                for x in 0..<wo { out[x] = a0 * r0[x] + a1 * r1[x] + a2 * r2[x] + a3 * r3[x] }
              } else {
                out.update(repeating: 0, count: wo)
                for e in lo..<hi {
                  let a = rw[Int(rowKernel[e])], src = scratch + Int(rowInput[e]) * wo
                  for x in 0..<wo { out[x] += a * src[x] }
                }
              }
            }
          } else {
            // Transposed y pass: scratch[r] = Σ over output rows reading r of weight · gradient row.
            scratch.update(repeating: 0, count: h * wo)
            for oy in 0..<ho {
              let grad = source + outputPlane + oy * wo
              for e in Int(rowStart[oy])..<Int(rowStart[oy + 1]) {
                let a = rw[Int(rowKernel[e])], dst = scratch + Int(rowInput[e]) * wo
                for x in 0..<wo { dst[x] += a * grad[x] }
              }
            }
            // Transposed x pass, added into the input-shaped gradient.
            for r in 0..<h {
              let tmp = scratch + r * wo, inRow = destination + inputPlane + r * w
              for tap in colTaps {
                let weight = cw[tap.kernelIndex]
                let dst = inRow + tap.firstInput, src = tmp + tap.firstOutput
                let (so, si) = (tap.outputStep, tap.inputStep)
                if so == 1 && si == 1 {
                  for t in 0..<tap.count { dst[t] += weight * src[t] }
                } else {
                  for t in 0..<tap.count { dst[t * si] += weight * src[t * so] }
                }
              }
            }
          }
        }
      }
    } } } } } }
  }
}

extension Tensor {
  /// upfirdn2d on each plane of an [N, C, H, W] tensor with a 2-D `kernel` [kh, kw].
  /// `pad` is (x0, x1, y0, y1): left, right, top, bottom, as in the reference; negative values
  /// crop. The output is [N, C, (H·up + y0 + y1 − kh) / down + 1, (W·up + x0 + x1 − kw) / down + 1].
  /// Differentiable with respect to `x` (not the kernel).
  public static func upfirdn2d(
    _ x: Tensor, kernel: Tensor, up: Int = 1, down: Int = 1, pad: (Int, Int, Int, Int)
  ) -> Tensor {
    precondition(x.rank == 4, "upfirdn2d: input must be [N, C, H, W], got \(x.shape)")
    precondition(kernel.rank == 2, "upfirdn2d: kernel must be 2-D [kh, kw], got \(kernel.shape)")
    precondition(up >= 1 && down >= 1, "upfirdn2d: up (\(up)) and down (\(down)) must be at least 1")
    let (h, w) = (x.shape[2], x.shape[3])
    // The column tap lists only serve to check the pads and size the output.
    let widthTaps = FIRTaps(inputSize: w, up: up, down: down, padBefore: pad.0, padAfter: pad.1,
                            kernelSize: kernel.shape[1], op: "upfirdn2d")
    let plan = UpFirDnPlan(
      rows: FIRTaps(inputSize: h, up: up, down: down, padBefore: pad.2, padAfter: pad.3, kernelSize: kernel.shape[0], op: "upfirdn2d"),
      cols: FIRColumnTap.taps(inputSize: w, outputSize: widthTaps.outputSize, up: up, down: down, padBefore: pad.0,
                              kernelSize: kernel.shape[1]),
      height: h, width: w, outWidth: widthTaps.outputSize, kernel: kernel.detached(),
      separable: UpFirDnPlan.separableFactors(kernel))
    let planes = x.shape[0] * x.shape[1]
    let out = Tensor(uninitialized: [x.shape[0], x.shape[1], plan.rows.outputSize, plan.outWidth])
    plan.run(planes: planes, source: x.base, destination: out.base, adjoint: false)
    let inputShape = x.shape
    return record(out, input: x) { g in
      let gx = Tensor(zeros: inputShape)
      plan.run(planes: planes, source: g.base, destination: gx.base, adjoint: true)
      return gx
    }
  }

  /// upfirdn2d with the same (before, after) pad on both axes, like the reference's 2-element `pad`.
  public static func upfirdn2d(_ x: Tensor, kernel: Tensor, up: Int = 1, down: Int = 1, pad: (Int, Int)) -> Tensor {
    upfirdn2d(x, kernel: kernel, up: up, down: down, pad: (pad.0, pad.1, pad.0, pad.1))
  }
}
