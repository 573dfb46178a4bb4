import Foundation
@testable import Networks
import Tensors
import TestSupport
import XCTest

/// Parity with rosinality/stylegan2-pytorch on the tiny reference generator.
final class StyleGAN2Tests: XCTestCase {
  static func fixture(_ name: String) throws -> SafeTensorsFile {
    try SafeTensorsFile(contentsOf: Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)"))
  }

  func loadTiny() throws -> (StyleGAN2Generator, SafeTensorsFile) {
    (try StyleGAN2Generator(file: Self.fixture("stylegan2_tiny_weights.safetensors")),
     try Self.fixture("stylegan2_tiny_io.safetensors"))
  }

  func testConfigurationFromMetadata() throws {
    let (g, _) = try loadTiny()
    XCTAssertEqual(g.configuration.size, 64)
    XCTAssertEqual(g.configuration.styleDim, 32)
    XCTAssertEqual(g.configuration.mappingLayers, 2)
    XCTAssertEqual(g.configuration.latentCount, 10)
    XCTAssertEqual(g.configuration.channels(at: 32), 16)
    XCTAssertEqual(g.namedParameters.count, 87, "one parameter per key of the reference state_dict")
    XCTAssertThrowsError(try StyleGAN2Configuration(metadata: ["size": "64"])) {
      XCTAssertEqual($0 as? StyleGAN2Error, .missingMetadata("style_dim"))
    }
    XCTAssertThrowsError(try StyleGAN2Configuration(metadata: ["size": "48", "style_dim": "8", "n_mlp": "1"]))
  }

  func testMappingAndImageFromZ() throws {
    let (g, io) = try loadTiny()
    let z = try io.tensor("z")
    XCTAssertLessThan(relativeError(g.map(z), try io.tensor("w")), 1e-5)
    let image = g.generate(z: z, noise: .constant)
    XCTAssertLessThan(relativeError(image, try io.tensor("image_from_z")), 1e-4)
  }

  func testImageFromWPlusAndGradients() throws {
    let (g, io) = try loadTiny()
    let wPlus = try io.tensor("w_plus").requiringGradient()
    let image = g.synthesize(wPlus, noise: .constant)
    XCTAssertLessThan(relativeError(image, try io.tensor("image_from_w_plus")), 1e-4)
    let loss = (image * (try io.tensor("loss_weights"))).sum()
    XCTAssertEqual(Double(loss.item()), Double(io.metadata["loss_value"]!)!, accuracy: 1e-3)
    XCTAssertLessThan(relativeError(gradients(of: loss, wrt: [wPlus])[0], try io.tensor("grad_w_plus")), 1e-3)
    // Weight gradients: every `grad.<name>` of the reference.
    //
    // One pre-activation of convs.4 (flat index 19187) is +2.4e-7 in the reference and -3.5e-7
    // here: a float32 rounding difference far inside the forward tolerance that puts the two on
    // opposite sides of the leaky ReLU's kink. Its slope differs by 0.8·√2 there, and that one
    // element shifts the gradients of convs.4 and everything before it by up to ~3e-3 relative
    // (verified by swapping in the reference's activation, which brings them back to 1e-6).
    // Measured 2026-11-25 with the fused modulated ops: the layers after convs.4 are within
    // 1.1e-5 of the fixture (convs.5.noise.weight; most within 1e-6), so they are held to the
    // fixture's 1e-3; convs.4 and the layers before it reach 2.7e-3 (convs.0.conv.modulation.bias;
    // 13 of their 31 gradients are above 1e-3), so they are held to 5e-3.
    loss.backward()
    let upstreamOfKink: Set<String> = ["input", "conv1", "convs.0", "convs.1", "convs.2", "convs.3", "convs.4"]
    var checked = 0
    for (name, p) in g.namedParameters where io.contains("grad." + name) {
      let grad = try XCTUnwrap(p.gradient, "no gradient for \(name)")
      let layer = name.split(separator: ".").prefix(name.hasPrefix("convs.") ? 2 : 1).joined(separator: ".")
      let tolerance = upstreamOfKink.contains(layer) ? 5e-3 : 1e-3
      XCTAssertLessThan(relativeError(grad, try io.tensor("grad." + name)), tolerance, name)
      checked += 1
    }
    XCTAssertEqual(checked, 66, "every weight gradient of the reference was compared")
  }

  func testBatchOfOneEqualsBatchRow() throws {
    // Per-frame styles in one batch give exactly what each frame gives alone.
    let (g, io) = try loadTiny()
    let wPlus = try io.tensor("w_plus")
    let both = g.synthesize(wPlus)
    let second = g.synthesize(wPlus.slice(axis: 0, 1..<2))
    XCTAssertLessThan(relativeError(second, both.slice(axis: 0, 1..<2)), 1e-5)
  }

  func testNoiseModesAndTruncation() throws {
    let (g, io) = try loadTiny()
    let w = try io.tensor("w")
    let constant = g.synthesize(w), none = g.synthesize(w, noise: .none)
    let r1 = g.synthesize(w, noise: .random(seed: 1)), r1again = g.synthesize(w, noise: .random(seed: 1))
    XCTAssertEqual(r1.scalars, r1again.scalars, "seeded noise is reproducible")
    XCTAssertGreaterThan(relativeError(constant, none), 1e-4)
    XCTAssertGreaterThan(relativeError(r1, constant), 1e-4)
    // ψ = 0 renders the mean latent whatever z is.
    let z = try io.tensor("z")
    let a = g.generate(z: z, truncation: 0)
    XCTAssertLessThan(relativeError(a.slice(axis: 0, 0..<1), a.slice(axis: 0, 1..<2)), 1e-6)
  }

  func testFreshGeneratorRoundTripsThroughSafetensors() throws {
    let config = StyleGAN2Configuration(size: 16, styleDim: 8, mappingLayers: 2, channels: [4: 8, 8: 6, 16: 4])
    let g = StyleGAN2Generator(config, seed: 3)
    var tensors = g.stateDictionary()
    tensors["latent_avg"] = g.meanLatent
    let file = try SafeTensorsFile(data: SafeTensors.serialize(tensors, metadata: config.metadata))
    let loaded = try StyleGAN2Generator(file: file)
    XCTAssertEqual(loaded.configuration, config)
    let w = Tensor.randomNormal([2, config.latentCount, 8], seed: 4)
    XCTAssertEqual(loaded.synthesize(w).scalars, g.synthesize(w).scalars)
    // Strict loading: a missing tensor is named.
    tensors["convs.1.conv.weight"] = nil
    XCTAssertThrowsError(try StyleGAN2Generator(file: SafeTensorsFile(data: SafeTensors.serialize(tensors, metadata: config.metadata)))) {
      XCTAssertEqual($0 as? WeightLoadingError, .missingKey("convs.1.conv.weight"))
    }
  }

  func testSynthesisGradientsByFiniteDifferences() throws {
    // A second, independent check of the whole graph on a small random generator.
    let config = StyleGAN2Configuration(size: 8, styleDim: 4, mappingLayers: 1, channels: [4: 3, 8: 2])
    let g = StyleGAN2Generator(config, seed: 5)
    let w = Tensor.randomNormal([2, config.latentCount, 4], seed: 6)
    let r = GradientCheck(epsilon: 1e-2, maxElementsPerInput: 24).run([w]) { g.synthesize($0[0], noise: .constant) }
    XCTAssertLessThan(r.worst, 1e-2, "\(r)")
  }
}
