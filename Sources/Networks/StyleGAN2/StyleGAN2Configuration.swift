import Foundation
import Tensors

/// The hyper-parameters of a rosinality-style StyleGAN2 generator. They travel in the
/// safetensors metadata of a converted checkpoint (`size`, `style_dim`, `n_mlp`, `channels`,
/// `lr_mlp`, `channel_multiplier`).
public struct StyleGAN2Configuration: Sendable, Equatable {
  public var size: Int
  public var styleDim: Int
  public var mappingLayers: Int
  /// Feature channels at each resolution 4, 8, …, size.
  public var channels: [Int: Int]
  public var mappingLearningRate: Float
  public var blurKernel: [Float]

  public init(size: Int, styleDim: Int = 512, mappingLayers: Int = 8, channels: [Int: Int]? = nil,
              channelMultiplier: Int = 2, mappingLearningRate: Float = 0.01, blurKernel: [Float] = [1, 3, 3, 1]) {
    precondition(size >= 4 && size.nonzeroBitCount == 1, "StyleGAN2 size must be a power of two ≥ 4, got \(size)")
    self.size = size
    self.styleDim = styleDim
    self.mappingLayers = mappingLayers
    self.channels = channels ?? Self.referenceChannels(multiplier: channelMultiplier)
    self.mappingLearningRate = mappingLearningRate
    self.blurKernel = blurKernel
  }

  /// The reference channel table (config-f with multiplier 2).
  public static func referenceChannels(multiplier: Int) -> [Int: Int] {
    [4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * multiplier, 128: 128 * multiplier,
     256: 64 * multiplier, 512: 32 * multiplier, 1024: 16 * multiplier]
  }

  /// log2(size).
  public var logSize: Int { size.trailingZeroBitCount }
  /// Styles in a W+ latent: two per resolution from 8 up, plus two at 4.
  public var latentCount: Int { logSize * 2 - 2 }
  /// Noise inputs: one per styled convolution.
  public var noiseCount: Int { (logSize - 2) * 2 + 1 }

  public func channels(at resolution: Int) -> Int {
    guard let c = channels[resolution] else { preconditionFailure("no channel count for resolution \(resolution)") }
    return c
  }

  /// Reads the configuration from a converted checkpoint's metadata.
  public init(metadata: [String: String]) throws {
    func int(_ key: String) throws -> Int {
      guard let text = metadata[key], let v = Int(text) else { throw StyleGAN2Error.missingMetadata(key) }
      return v
    }
    let size = try int("size")
    guard size >= 4, size.nonzeroBitCount == 1 else { throw StyleGAN2Error.invalidMetadata("size \(size) is not a power of two ≥ 4") }
    var channels: [Int: Int]? = nil
    if let text = metadata["channels"] {
      guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
        throw StyleGAN2Error.invalidMetadata("channels is not a JSON object")
      }
      var table: [Int: Int] = [:]
      for (k, v) in object {
        guard let r = Int(k), let c = (v as? NSNumber)?.intValue else { throw StyleGAN2Error.invalidMetadata("channels entry \(k)") }
        table[r] = c
      }
      channels = table
    }
    let multiplier = metadata["channel_multiplier"].flatMap(Int.init) ?? 2
    let lr = metadata["lr_mlp"].flatMap(Float.init) ?? 0.01
    self.init(size: size, styleDim: try int("style_dim"), mappingLayers: try int("n_mlp"), channels: channels,
              channelMultiplier: multiplier, mappingLearningRate: lr)
    for r in resolutions where self.channels[r] == nil {
      throw StyleGAN2Error.invalidMetadata("channels has no entry for resolution \(r)")
    }
  }

  /// The metadata a converted checkpoint carries.
  public var metadata: [String: String] {
    let table = resolutions.map { "\"\($0)\": \(channels(at: $0))" }.joined(separator: ", ")
    return ["format": "rosinality-stylegan2", "size": "\(size)", "style_dim": "\(styleDim)", "n_mlp": "\(mappingLayers)",
            "channels": "{\(table)}", "lr_mlp": "\(mappingLearningRate)"]
  }

  /// 4, 8, …, size.
  public var resolutions: [Int] { (2...logSize).map { 1 << $0 } }
}

public enum StyleGAN2Error: Error, CustomStringConvertible, Equatable {
  case missingMetadata(String)
  case invalidMetadata(String)
  case badLatent(String)

  public var description: String {
    switch self {
    case let .missingMetadata(key):
      return "the generator file has no '\(key)' in its metadata; convert the checkpoint with scripts/convert_checkpoints.py stylegan2"
    case let .invalidMetadata(why): return "the generator file's metadata is invalid: \(why)"
    case let .badLatent(why): return "latent input rejected: \(why)"
    }
  }
}
