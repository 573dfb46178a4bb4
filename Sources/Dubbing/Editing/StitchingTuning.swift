import Foundation
import Media
import Networks
import Tensors

/// Stage 6, `stitch`: per frame, a copy of the tuned generator is tuned for a few steps so its
/// render meets the original frame on the boundary band (L1 against the original crop) while
/// the face keeps the edit (λ_m·L1 inside the mask against the untuned render), then renders.
public struct StitchingTuning {
  public struct Settings: Sendable, Equatable {
    public var steps = 100
    public var learningRate: Float = 3e-4
    public var maskWeight: Float = 1
    /// Pixels the face mask grows by to form the band, and the width of the crop-edge band, as
    /// fractions of the crop side.
    public var dilation = 0.04
    public var edge = 0.03
    public init() {}
  }

  public let generator: StyleGAN2Generator
  public var settings: Settings

  public init(generator: StyleGAN2Generator, settings: Settings = Settings()) {
    self.generator = generator
    self.settings = settings
  }

  public func masks(faceMask: Tensor) -> StitchingMasks {
    let n = generator.configuration.size
    return StitchingMasks(faceMask: faceMask, dilation: max(1, Int((settings.dilation * Double(n)).rounded())),
                          edge: max(1, Int((settings.edge * Double(n)).rounded())))
  }

  /// One frame: its original crop [1, 3, R, R] in [−1, 1], its optimized latent [1, L, D] and the
  /// stitching masks → the stitched render [1, 3, R, R]. The shared generator is not changed.
  public func stitch(original: Tensor, latent: Tensor, masks: StitchingMasks,
                     progress: (Int, LossTerms) -> Bool = { _, _ in true }) -> Tensor {
    let copy = StyleGAN2Generator(generator.configuration)
    for (target, source) in zip(copy.parameters, generator.parameters) { target.value = source.value }
    let (original, latent) = (original.detached(), latent.detached())
    let untuned = generator.synthesize(latent).detached()
    let trainable = copy.synthesisParameters
    let mapping = copy.parameters.filter { p in !trainable.contains { $0 === p } }
    var adam = Adam(learningRate: settings.learningRate)
    let (face, band) = (masks.face, masks.band)
    let bandArea = max(band.scalars.reduce(0, +), 1), faceArea = max(face.scalars.reduce(0, +), 1)
    withFrozen(mapping) {
      for step in 0..<settings.steps {
        let image = copy.synthesize(latent)
        let boundary = ((image - original).abs() * band).sum() * (1 / (3 * bandArea))
        let inside = ((image - untuned).abs() * face).sum() * (1 / (3 * faceArea))
        let loss = boundary + inside * settings.maskWeight
        loss.backward()
        adam.step(trainable)
        let terms = LossTerms(values: ["boundary": Double(boundary.scalars[0]), "inside": Double(inside.scalars[0])],
                              total: Double(loss.scalars[0]))
        if !progress(step + 1, terms) { break }
      }
    }
    return withFrozen(copy.parameters) { copy.synthesize(latent).detached() }
  }
}
