import DemoWorld
import Dubbing
import Foundation
import Media
import Networks
import Tensors
import XCTest

/// The demo world's training code: the conditional generator training learns, and its data are
/// the pipeline's crops.
final class DemoWorldTrainingTests: XCTestCase {
  func testGeneratorTrainingReconstructsTheTrainingFaces() {
    let c = StyleGAN2Configuration(size: 16, styleDim: 16, mappingLayers: 1, channels: [4: 16, 8: 16, 16: 16])
    var sampler = FaceSampler(seed: 4)
    let data = AlignedFaces.make(count: 24, cast: 3, cropSize: 16, frameSize: 96, sampler: &sampler)
    var generator = StyleGAN2Generator(c, seed: 2)
    var settings = GeneratorTraining.Settings()
    settings.steps = 120
    settings.batchSize = 8
    var first: Double?, last = 0.0
    let codes = GeneratorTraining(settings: settings).train(&generator, images: data.crops * 2 - 1, conditions: data.features) { p in
      if first == nil { first = p.l1 }
      last = p.l1
      return true
    }
    XCTAssertEqual(codes.shape.dims, [24, 16])
    XCTAssertLessThan(last, 0.5 * first!, "L1 \(first!) → \(last)")
    // The mean latent is the codes' mean, and the codes render the faces better than it does.
    XCTAssertEqual(generator.meanLatent.scalars, codes.mean(axis: 0).scalars)
    let images = data.crops * 2 - 1
    let fromCodes = Double((generator.synthesize(codes) - images).abs().mean().scalars[0])
    let fromMean = Double((generator.synthesize(generator.meanLatent.reshaped([1, 16]).broadcast(to: [24, 16])) - images).abs().mean().scalars[0])
    XCTAssertLessThan(fromCodes, 0.8 * fromMean)
  }

  func testAlignedFacesAreThePipelinesCrops() {
    var sampler = FaceSampler(seed: 9)
    let data = AlignedFaces.make(count: 6, cropSize: 64, frameSize: 160, sampler: &sampler)
    XCTAssertEqual(data.crops.shape.dims, [6, 3, 64, 64])
    XCTAssertEqual(data.faceCoverage.shape.dims, [6, 1, 64, 64])
    XCTAssertEqual(data.features.shape.dims, [6, FaceParameters.featureCount])
    for points in data.landmarks {
      // FFHQ alignment: eyes level and symmetric about the centre column, the mouth below them.
      func mean(_ range: Range<Int>) -> SIMD2<Double> { points[range].reduce(.zero, +) / Double(range.count) }
      let left = mean(36..<42), right = mean(42..<48)
      XCTAssertEqual(left.y, right.y, accuracy: 3)
      XCTAssertEqual((left.x + right.x) / 2, 31.5, accuracy: 4)
      XCTAssertGreaterThan(points[57].y, left.y + 10)
    }
    // The face covers the middle of the crop, not its corners.
    XCTAssertGreaterThan(data.faceCoverage[0, 0, 36, 32], 0.9)
    XCTAssertLessThan(data.faceCoverage[0, 0, 1, 1], 0.1)
    // The feature mask: full at a mouth corner and an eye corner, empty at the crop's corner and
    // on the jaw away from the mouth.
    let features = data.featureCoverage(radius: 2)
    XCTAssertEqual(features.shape.dims, [6, 1, 64, 64])
    for k in [48, 36] {
      let p = data.landmarks[0][k]
      XCTAssertEqual(features[0, 0, Int(p.y), Int(p.x)], 1, "landmark \(k)")
    }
    XCTAssertEqual(features[0, 0, 0, 0], 0)
    let jaw = data.landmarks[0][2]
    XCTAssertEqual(features[0, 0, Int(jaw.y), Int(jaw.x)], 0, "the jaw is not a feature")
  }
}
