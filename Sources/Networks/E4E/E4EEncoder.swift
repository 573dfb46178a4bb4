import Foundation
import Tensors

/// The e4e encoder (omertov/encoder4editing, `Encoder4Editing(50, 'ir_se')`, progressive stage
/// Inference): an IR-SE-50 body, a feature pyramid and one gradual style block per W+ entry.
/// The first block's code w0 is repeated over all entries and block i adds its delta to entry i.
///
/// Input: [N, 3, 256, 256] in [-1, 1]. Output: [N, styles, styleDim] W+ codes *before* the
/// generator's `latent_avg` is added — the caller adds it, as pSp does with
/// `start_from_latent_avg`. Parameter names are the encoder's own (`body.23.res_layer.5.fc2.weight`,
/// `styles.17.linear.bias`); in the official checkpoint they sit under `encoder.`.
///
/// The published encoder has `width` 64 (stages of 64, 128, 256, 512 channels) and `styleDim`
/// 512; smaller ones (same layout, for small generators) are read off a checkpoint's shapes.
public struct E4EEncoder: Layer, Sendable {
  /// W+ entries: 18 for a 1024² generator (2·log2(size) − 2).
  public let styleCount: Int
  /// Channels of the first body stage (the later ones have 2, 4 and 8 times as many).
  public let width: Int
  /// Length of each code (the generator's style_dim).
  public let styleDim: Int
  let inputConv: Conv2dLayer
  let inputBN: BatchNorm2dLayer
  let inputPReLU: PReLULayer
  let body: [BottleneckIRSE]
  let styles: [GradualStyleBlock]
  let latlayer1: Conv2dLayer
  let latlayer2: Conv2dLayer

  /// Style entries from index 3 read the middle pyramid level, from 7 the finest.
  static let coarseIndex = 3, middleIndex = 7

  /// `generatorSize` is the StyleGAN2 resolution the codes are for (1024 for FFHQ); `width` a
  /// multiple of 16 (the squeeze-excitation layers divide it by 16).
  public init(generatorSize: Int = 1024, width: Int = 64, styleDim: Int = 512) {
    var log2 = 0
    while (1 << (log2 + 1)) <= generatorSize { log2 += 1 }
    precondition(1 << log2 == generatorSize && log2 >= 3, "E4EEncoder: generator size must be a power of two ≥ 8")
    precondition(width >= 16 && width % 16 == 0 && styleDim >= 1, "E4EEncoder: width must be a multiple of 16")
    styleCount = 2 * log2 - 2
    (self.width, self.styleDim) = (width, styleDim)
    inputConv = Conv2dLayer(3, width, kernel: 3, padding: 1, bias: false)
    inputBN = BatchNorm2dLayer(width)
    inputPReLU = PReLULayer(width)
    // IR-SE-50: 3, 4, 14 and 3 units of widths 64, 128, 256, 512, the first of each strided.
    var units: [BottleneckIRSE] = []
    for (inChannels, depth, count) in [(1, 1, 3), (1, 2, 4), (2, 4, 14), (4, 8, 3)] {
      units.append(BottleneckIRSE(inChannels * width, depth * width, stride: 2))
      for _ in 1..<count { units.append(BottleneckIRSE(depth * width, depth * width, stride: 1)) }
    }
    body = units
    styles = (0..<styleCount).map { i in
      GradualStyleBlock(8 * width, styleDim, spatial: i < Self.coarseIndex ? 16 : (i < Self.middleIndex ? 32 : 64))
    }
    latlayer1 = Conv2dLayer(4 * width, 8 * width, kernel: 1)
    latlayer2 = Conv2dLayer(2 * width, 8 * width, kernel: 1)
  }

  /// Loads the encoder from a converted checkpoint (scripts/convert_checkpoints.py e4e), whose
  /// encoder tensors sit under `prefix` ("encoder"); `latent_avg` and the `decoder.` tensors
  /// are left to their own loaders.
  public init(checkpoint: SafeTensorsFile, prefix: String = "encoder") throws {
    var count = 0
    let keyPrefix = prefix.isEmpty ? "" : prefix + "."
    while checkpoint.contains("\(keyPrefix)styles.\(count).linear.weight") { count += 1 }
    guard count >= 4, count % 2 == 0 else {
      throw NetworkCheckpointError.unrecognized(network: "e4e encoder", reason: "no '\(keyPrefix)styles.N.linear.weight' tensors")
    }
    let stem = try checkpoint.shape(of: "\(keyPrefix)input_layer.0.weight"), code = try checkpoint.shape(of: "\(keyPrefix)styles.0.linear.weight")
    guard stem.count == 4, stem[0] % 16 == 0, stem[0] >= 16, code.count == 2, code[0] >= 1 else {
      throw NetworkCheckpointError.unrecognized(network: "e4e encoder", reason: "input layer \(stem) or style code \(code) has an unexpected shape")
    }
    self.init(generatorSize: 1 << ((count + 2) / 2), width: stem[0], styleDim: code[0])
    // At the top level, the checkpoint's other parts are not the encoder's to refuse.
    try load(from: checkpoint, prefix: prefix, ignoring: { $0 == "latent_avg" || $0.hasPrefix("decoder.") })
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    var children: [(String, any Layer)] = [("input_layer.0", inputConv), ("input_layer.1", inputBN), ("input_layer.2", inputPReLU)]
    children += body.enumerated().map { ("body.\($0.offset)", $0.element) }
    children += styles.enumerated().map { ("styles.\($0.offset)", $0.element) }
    children += [("latlayer1", latlayer1), ("latlayer2", latlayer2)]
    return ParameterTree.join(children)
  }

  /// pSp's `_upsample_add`: `x` resized (bilinear, corners aligned) to `y`'s size, plus `y`.
  static func upsampleAdd(_ x: Tensor, _ y: Tensor) -> Tensor {
    x.resizeBilinear(to: (y.shape[2], y.shape[3]), alignCorners: true) + y
  }

  /// W+ codes [N, styleCount, 512] for images [N, 3, 256, 256] in [-1, 1], before `latent_avg`.
  public func codes(_ image: Tensor) -> Tensor {
    precondition(image.rank == 4 && image.shape[1] == 3, "E4EEncoder: input must be [N, 3, H, W], got \(image.shape)")
    var x = inputPReLU(inputBN(inputConv(image)))
    var c1 = x, c2 = x
    for (i, unit) in body.enumerated() {
      x = unit(x)
      if i == 6 { c1 = x } else if i == 20 { c2 = x }
    }
    let c3 = x
    let w0 = styles[0](c3)
    var entries = [w0]
    var features = c3
    var p2 = c3
    for i in 1..<styleCount {
      if i == Self.coarseIndex {
        p2 = Self.upsampleAdd(c3, latlayer1(c2))
        features = p2
      } else if i == Self.middleIndex {
        features = Self.upsampleAdd(p2, latlayer2(c1))
      }
      entries.append(w0 + styles[i](features))
    }
    return Tensor.stack(entries, axis: 1)
  }

  public func callAsFunction(_ image: Tensor) -> Tensor { codes(image) }
}

extension E4EEncoder {
  /// Loads the encoder from a converted checkpoint file (tensors under `encoder.`).
  public init(contentsOf url: URL, prefix: String = "encoder") throws {
    try self.init(checkpoint: SafeTensorsFile(contentsOf: url), prefix: prefix)
  }
}
