import Foundation
import Networks
import Tensors

/// The networks a dubbing job needs, as files in one folder under fixed names.
public enum ModelRole: String, CaseIterable, Sendable {
  case generator, encoder, lpips, fan, detector, parsing, audioToLandmarks

  public var fileName: String {
    switch self {
    case .generator: "stylegan2.safetensors"
    case .encoder: "e4e.safetensors"
    case .lpips: "lpips.safetensors"
    case .fan: "fan.safetensors"
    case .detector: "s3fd.safetensors"
    case .parsing: "bisenet.safetensors"
    case .audioToLandmarks: "audio2landmarks.safetensors"
    }
  }

  /// What the job does without it (nil: it cannot run).
  public var whenMissing: String? {
    switch self {
    case .encoder: "inversion by optimization from the mean latent"
    case .detector: "only with precomputed landmarks (--landmarks)"
    default: nil
    }
  }

  /// How to make the file.
  public var howToMake: String {
    switch self {
    case .generator: "scripts/convert_checkpoints.py stylegan2 stylegan2-ffhq-config-f.pt stylegan2.safetensors"
    case .encoder: "scripts/convert_checkpoints.py e4e e4e_ffhq_encode.pt e4e.safetensors"
    case .lpips: "scripts/convert_checkpoints.py lpips --trunk vgg16-397923af.pth --lin vgg.pth lpips.safetensors"
    case .fan: "scripts/convert_checkpoints.py fan 2DFAN4-11f355bf06.pth.tar fan.safetensors"
    case .detector: "scripts/convert_checkpoints.py s3fd s3fd-619a316812.pth s3fd.safetensors"
    case .parsing: "scripts/convert_checkpoints.py bisenet 79999_iter.pth bisenet.safetensors"
    case .audioToLandmarks: "redub train audio2landmarks --data DATA --output audio2landmarks.safetensors"
    }
  }
}

public enum ModelSetError: Error, CustomStringConvertible, Equatable {
  case missing(folder: String, role: ModelRole)
  case unreadable(path: String, reason: String)

  public var description: String {
    switch self {
    case .missing(let folder, let role):
      "the models folder \(folder) has no \(role.fileName) (the \(role.rawValue) network); make it with: \(role.howToMake)"
    case .unreadable(let path, let reason): "\(path): \(reason)"
    }
  }
}

/// A models folder and what each file in it holds.
public struct ModelFolder: Sendable {
  public let url: URL

  public init(_ url: URL) { self.url = url }

  public func path(_ role: ModelRole) -> URL { url.appendingPathComponent(role.fileName) }
  public func has(_ role: ModelRole) -> Bool { FileManager.default.fileExists(atPath: path(role).path) }

  /// A network of the set, loaded strictly; a missing or wrong file is an error naming it.
  public func load<T>(_ role: ModelRole, _ loader: (URL) throws -> T) throws -> T {
    guard has(role) else { throw ModelSetError.missing(folder: url.path, role: role) }
    do {
      return try loader(path(role))
    } catch {
      throw ModelSetError.unreadable(path: path(role).path, reason: "\(error)")
    }
  }

  /// One line per network: present or not, what it is, and what the job does without it.
  public struct Entry: Sendable {
    public var role: ModelRole
    public var present: Bool
    public var summary: String
    public var bytes: Int
    public var loadError: String?
  }

  /// Loads each present network to describe it (and to prove it loads).
  public func check() -> [Entry] {
    ModelRole.allCases.map { role in
      let file = path(role)
      guard has(role) else {
        return Entry(role: role, present: false,
                     summary: role.whenMissing.map { "missing: \($0)" } ?? "missing (required): \(role.howToMake)", bytes: 0)
      }
      let bytes = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
      do {
        return Entry(role: role, present: true, summary: try describe(role, file), bytes: bytes)
      } catch {
        return Entry(role: role, present: true, summary: "does not load", bytes: bytes, loadError: "\(error)")
      }
    }
  }

  private func describe(_ role: ModelRole, _ file: URL) throws -> String {
    switch role {
    case .generator:
      let g = try StyleGAN2Generator(contentsOf: file)
      let c = g.configuration
      return "StyleGAN2 \(c.size)², style \(c.styleDim), \(c.mappingLayers) mapping layers, \(g.parameterCount) parameters"
    case .encoder:
      let e = try E4EEncoder(contentsOf: file)
      return "e4e encoder, width \(e.width), \(e.styleCount) styles × \(e.styleDim), \(e.parameterCount) parameters"
    case .lpips:
      let l = try LPIPS(contentsOf: file)
      return "LPIPS \(l.trunk), \(l.parameterCount) parameters"
    case .fan:
      let f = try FAN(contentsOf: file)
      return "FAN-\(f.moduleCount), \(f.parameterCount) parameters"
    case .detector:
      return "S3FD, \(try S3FD(contentsOf: file).parameterCount) parameters"
    case .parsing:
      return "BiSeNet, \(try BiSeNet(contentsOf: file).parameterCount) parameters"
    case .audioToLandmarks:
      let m = try AudioToLandmarksModel(contentsOf: file)
      return "audio-to-landmarks, emotions \(m.configuration.emotions.joined(separator: "/")), \(m.parameterCount) parameters"
    }
  }
}
