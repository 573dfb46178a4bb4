import Foundation
import Tensors

/// The BiSeNet face parser of zllrunning/face-parsing.PyTorch (`BiSeNet(n_classes=19)`, eval
/// mode): a ResNet-18 context path with attention refinement, feature fusion and three heads,
/// each upsampled (bilinear, corners aligned) to the input size.
///
/// Input: [N, 3, H, W] RGB normalized with ImageNet's mean and deviation (the repository's
/// `transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))`; see
/// `normalize(rgb01:)`), usually 512². Parameter names are the repository's
/// (`cp.resnet.layer2.0.downsample.1.running_var`, `ffm.convblk.conv.weight`, ...).
public struct BiSeNet: Layer, Sendable {
  /// The 19 CelebAMask-HQ classes, by index.
  public enum FaceClass: Int, CaseIterable, Sendable {
    case background = 0, skin, leftBrow, rightBrow, leftEye, rightEye, glasses, leftEar, rightEar, earring,
      nose, mouth, upperLip, lowerLip, neck, necklace, cloth, hair, hat
  }

  public let classCount: Int
  /// The ResNet stem's channels: 64 for the published network. Every layer scales with it
  /// (ResNet stages width…8·width, context path 2·width, fusion and main head 4·width).
  public let width: Int
  /// The side of the crop a reduced network was trained on (checkpoint metadata
  /// "input_size"); nil for the published network, which reads any size (512² in training).
  public let inputSize: Int?
  let resnet: BiSeNetResNet18
  let arm16: AttentionRefinement
  let arm32: AttentionRefinement
  let convHead32: ConvBNReLU
  let convHead16: ConvBNReLU
  let convAverage: ConvBNReLU
  let fusion: FeatureFusion
  let head: BiSeNetHead, head16: BiSeNetHead, head32: BiSeNetHead

  /// `width` 64 is the published network; reduced ones take a smaller multiple of 4.
  public init(classes: Int = 19, width: Int = 64, inputSize: Int? = nil) {
    precondition(width >= 4 && width % 4 == 0, "BiSeNet width must be a positive multiple of 4, got \(width)")
    precondition(inputSize.map { $0 >= 32 && $0 % 32 == 0 } ?? true, "BiSeNet input size must be a multiple of 32, got \(inputSize!)")
    classCount = classes
    self.width = width
    self.inputSize = inputSize
    let w = width
    resnet = BiSeNetResNet18(width: w)
    arm16 = AttentionRefinement(4 * w, 2 * w)
    arm32 = AttentionRefinement(8 * w, 2 * w)
    convHead32 = ConvBNReLU(2 * w, 2 * w)
    convHead16 = ConvBNReLU(2 * w, 2 * w)
    convAverage = ConvBNReLU(8 * w, 2 * w, kernel: 1, padding: 0)
    fusion = FeatureFusion(4 * w, 4 * w)
    head = BiSeNetHead(4 * w, 4 * w, classes: classes)
    head16 = BiSeNetHead(2 * w, w, classes: classes)
    head32 = BiSeNetHead(2 * w, w, classes: classes)
  }

  /// Loads a checkpoint: converted (scripts/convert_checkpoints.py bisenet) or written by
  /// `write(to:metadata:)`. Classes and width are read from the tensors' shapes, the input size
  /// from the metadata's "input_size" when present.
  public init(checkpoint: SafeTensorsFile) throws {
    guard let shape = checkpoint.entries["conv_out.conv_out.weight"]?.shape, shape.rank == 4 else {
      throw NetworkCheckpointError.unrecognized(network: "BiSeNet", reason: "no head 'conv_out.conv_out.weight'")
    }
    guard let stem = checkpoint.entries["cp.resnet.conv1.weight"]?.shape, stem.rank == 4, stem[0] >= 4, stem[0] % 4 == 0 else {
      throw NetworkCheckpointError.unrecognized(network: "BiSeNet", reason: "no stem 'cp.resnet.conv1.weight' with a multiple of 4 channels")
    }
    var inputSize: Int?
    if let text = checkpoint.metadata["input_size"] {
      guard let size = Int(text), size >= 32, size % 32 == 0 else {
        throw NetworkCheckpointError.unrecognized(network: "BiSeNet", reason: "metadata input_size '\(text)' is not a multiple of 32")
      }
      inputSize = size
    }
    self.init(classes: shape[0], width: stem[0], inputSize: inputSize)
    try load(from: checkpoint)
  }

  /// What a checkpoint of this network says about it (safetensors metadata), plus `extra`.
  public func metadata(_ extra: [String: String] = [:]) -> [String: String] {
    var m = ["network": "BiSeNet", "classes": String(classCount), "width": String(width), "labels": "CelebAMask-HQ-19"]
    if let inputSize { m["input_size"] = String(inputSize) }
    return m.merging(extra) { _, new in new }
  }

  /// Writes the weights (running statistics included) with `metadata(extra)`.
  public func write(to url: URL, metadata extra: [String: String] = [:]) throws {
    try SafeTensors.write(stateDictionary(), metadata: metadata(extra), to: url)
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    ParameterTree.join([
      ("cp.resnet", resnet), ("cp.arm16", arm16), ("cp.arm32", arm32), ("cp.conv_head32", convHead32),
      ("cp.conv_head16", convHead16), ("cp.conv_avg", convAverage), ("ffm", fusion),
      ("conv_out", head), ("conv_out16", head16), ("conv_out32", head32),
    ])
  }

  /// The three heads' logits at the input's resolution: the main one and the two auxiliary
  /// ones (used in training; the main one is the prediction).
  public func allLogits(_ x: Tensor) -> (logits: Tensor, logits16: Tensor, logits32: Tensor) {
    precondition(x.rank == 4 && x.shape[1] == 3, "BiSeNet: input must be [N, 3, H, W], got \(x.shape)")
    let size = (height: x.shape[2], width: x.shape[3])
    let (feat8, feat16, feat32) = resnet(x)
    func sized(_ t: Tensor, like other: Tensor) -> (Int, Int) { (other.shape[2], other.shape[3]) }
    let average = convAverage(feat32.mean(axes: [2, 3], keepDims: true))
    let feat32Sum = arm32(feat32) + average.resizeNearest(to: sized(average, like: feat32))
    let feat32Up = convHead32(feat32Sum.resizeNearest(to: sized(feat32Sum, like: feat16)))
    let feat16Sum = arm16(feat16) + feat32Up
    let feat16Up = convHead16(feat16Sum.resizeNearest(to: sized(feat16Sum, like: feat8)))
    let fused = fusion(feat8, feat16Up)
    return (head(fused).resizeBilinear(to: size, alignCorners: true),
            head16(feat16Up).resizeBilinear(to: size, alignCorners: true),
            head32(feat32Up).resizeBilinear(to: size, alignCorners: true))
  }

  /// The main head's logits, [N, classes, H, W].
  public func logits(_ x: Tensor) -> Tensor { allLogits(x).logits }

  public func callAsFunction(_ x: Tensor) -> Tensor { logits(x) }

  /// RGB in [0, 1] → the network's input (ImageNet normalization).
  public static func normalize(rgb01 x: Tensor) -> Tensor {
    (x - Tensor([0.485, 0.456, 0.406], shape: [1, 3, 1, 1])) / Tensor([0.229, 0.224, 0.225], shape: [1, 3, 1, 1])
  }

  /// The [N, 1, H, W] face mask of RGB images in [0, 1]. A network with an `inputSize` (a
  /// reduced one trained at that size) reads the images resized to it, and its logits are
  /// resized back, so a 128² render is parsed at the scale the network learned.
  public func faceMask(rgb01 x: Tensor, classes: Set<FaceClass> = defaultFaceClasses) -> Tensor {
    let size = (x.shape[2], x.shape[3])
    guard let s = inputSize, (s, s) != size else { return Self.mask(logits(Self.normalize(rgb01: x)), classes: classes) }
    let resized = Self.normalize(rgb01: x.resizeBilinear(to: (s, s), alignCorners: false))
    return Self.mask(logits(resized).resizeBilinear(to: size, alignCorners: false), classes: classes)
  }

  /// The most likely class of each pixel, [N, H, W] as class indices.
  public static func parsing(_ logits: Tensor) -> [[Int]] {
    precondition(logits.rank == 4, "BiSeNet.parsing: logits must be [N, C, H, W], got \(logits.shape)")
    let (n, c, plane) = (logits.shape[0], logits.shape[1], logits.shape[2] * logits.shape[3])
    return logits.withUnsafeBufferPointer { p in
      (0..<n).map { b in
        (0..<plane).map { i in
          var best = 0
          for k in 1..<c where p[(b * c + k) * plane + i] > p[(b * c + best) * plane + i] { best = k }
          return best
        }
      }
    }
  }

  /// The classes that count as face for the stitching mask by default: everything except
  /// background, cloth and hat.
  public static let defaultFaceClasses: Set<FaceClass> = Set(FaceClass.allCases).subtracting([.background, .cloth, .hat])

  /// A [N, 1, H, W] mask, 1 where the most likely class is in `classes`, else 0.
  public static func mask(_ logits: Tensor, classes: Set<FaceClass> = defaultFaceClasses) -> Tensor {
    let labels = parsing(logits)
    let selected = Set(classes.map(\.rawValue))
    let (n, h, w) = (logits.shape[0], logits.shape[2], logits.shape[3])
    return Tensor(shape: [n, 1, h, w]) { out in
      for b in 0..<n {
        for i in 0..<(h * w) where selected.contains(labels[b][i]) { out[b * h * w + i] = 1 }
      }
    }
  }
}

extension BiSeNet {
  /// Loads a converted checkpoint file (scripts/convert_checkpoints.py).
  public init(contentsOf url: URL) throws {
    try self.init(checkpoint: SafeTensorsFile(contentsOf: url))
  }
}
