import Networks
import Tensors

/// Stage 2, `invert`, with an encoder: each frame's pivot is the e4e code of its crop plus the
/// mean latent, as e4e's inference does (`start_from_latent_avg`). No optimization: the pivot is
/// what pivotal tuning then fits the generator to.
public struct EncoderInversion {
  public let encoder: E4EEncoder
  /// [L, D] or [D]: the latent the codes are offsets from (the checkpoint's `latent_avg`).
  public let meanLatent: Tensor
  /// Frames encoded at once.
  public var batchSize = 4

  /// The encoder must give one code per generator style input, each of the generator's length.
  public init(encoder: E4EEncoder, meanLatent: Tensor, generator: StyleGAN2Configuration) throws {
    guard encoder.styleCount == generator.latentCount, encoder.styleDim == generator.styleDim else {
      throw EditError.stateMismatch("the e4e encoder gives \(encoder.styleCount)×\(encoder.styleDim) codes, but the "
        + "generator (\(generator.size)²) takes \(generator.latentCount)×\(generator.styleDim): they are not a pair")
    }
    guard meanLatent.shape.dims == [generator.latentCount, generator.styleDim] || meanLatent.shape.dims == [generator.styleDim] else {
      throw EditError.stateMismatch("latent_avg has shape \(meanLatent.shape); the generator takes \(generator.latentCount)×\(generator.styleDim)")
    }
    self.encoder = encoder
    self.meanLatent = meanLatent
  }

  /// frames [N, 3, R, R] in [−1, 1] → W+ pivots [N, L, D]; `progress` gets frames done.
  public func invert(_ frames: Tensor, progress: (Int) -> Bool = { _ in true }) -> Tensor? {
    let n = frames.shape[0]
    let average = meanLatent.reshaped(meanLatent.rank == 2 ? [1, encoder.styleCount, encoder.styleDim] : [1, 1, encoder.styleDim])
    var pivots: [Tensor] = []
    for start in stride(from: 0, to: n, by: batchSize) {
      let batch = frames.slice(axis: 0, start..<min(start + batchSize, n)).detached()
      pivots.append(encoder.codes(Self.encoderInput(batch)) + average)
      if !progress(min(start + batchSize, n)) { return nil }
    }
    return Tensor.concat(pivots, axis: 0)
  }

  /// e4e reads 256² images. Crops that are a whole multiple of it are area-averaged down (close to
  /// the antialiased resize the e4e authors' transforms apply); others are resized bilinearly.
  static func encoderInput(_ frames: Tensor) -> Tensor {
    let side = frames.shape[2]
    if side == 256 && frames.shape[3] == 256 { return frames }
    if side > 256, side % 256 == 0, frames.shape[3] == side { return frames.avgPool2d(kernel: side / 256, stride: side / 256) }
    return frames.resizeBilinear(to: (256, 256), alignCorners: false)
  }
}
