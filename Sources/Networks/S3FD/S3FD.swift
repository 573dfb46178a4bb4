import Foundation
import Tensors

/// The S3FD face detector (package `face-alignment` 1.5.0, `detection/sfd/net_s3fd.py`):
/// a VGG16 trunk with six detection heads at strides 4…128.
///
/// `heads(_:)` is the network's forward pass: for a BGR image minus the means (104, 117, 123)
/// it returns the six (classification, regression) pairs before softmax, the first
/// classification with the package's background max-out already applied. `detect(rgb:)` adds
/// the package's post-processing. Parameter names are the package's (`conv4_3_norm.weight`,
/// `fc7_mbox_loc.bias`, ...).
public struct S3FD: Layer, Sendable {
  /// Per-channel means subtracted from BGR pixels in 0…255.
  public static let bgrMeans: [Float] = [104, 117, 123]

  let trunk: [(name: String, conv: Conv2dLayer)]
  let norms: [TensorParameter]
  /// (name prefix, classification, regression), in the package's output order.
  let detectionHeads: [(name: String, conf: Conv2dLayer, loc: Conv2dLayer)]

  public init() {
    func c(_ name: String, _ i: Int, _ o: Int, k: Int = 3, s: Int = 1, p: Int = 1) -> (name: String, conv: Conv2dLayer) {
      (name, Conv2dLayer(i, o, kernel: k, stride: s, padding: p))
    }
    trunk = [
      c("conv1_1", 3, 64), c("conv1_2", 64, 64),
      c("conv2_1", 64, 128), c("conv2_2", 128, 128),
      c("conv3_1", 128, 256), c("conv3_2", 256, 256), c("conv3_3", 256, 256),
      c("conv4_1", 256, 512), c("conv4_2", 512, 512), c("conv4_3", 512, 512),
      c("conv5_1", 512, 512), c("conv5_2", 512, 512), c("conv5_3", 512, 512),
      c("fc6", 512, 1024, p: 3), c("fc7", 1024, 1024, k: 1, p: 0),
      c("conv6_1", 1024, 256, k: 1, p: 0), c("conv6_2", 256, 512, s: 2),
      c("conv7_1", 512, 128, k: 1, p: 0), c("conv7_2", 128, 256, s: 2),
    ]
    norms = [
      TensorParameter("conv3_3_norm.weight", shape: [256], value: 10),
      TensorParameter("conv4_3_norm.weight", shape: [512], value: 8),
      TensorParameter("conv5_3_norm.weight", shape: [512], value: 5),
    ]
    func head(_ name: String, _ channels: Int, classes: Int = 2) -> (name: String, conf: Conv2dLayer, loc: Conv2dLayer) {
      (name, Conv2dLayer(channels, classes, kernel: 3, padding: 1), Conv2dLayer(channels, 4, kernel: 3, padding: 1))
    }
    detectionHeads = [
      head("conv3_3_norm", 256, classes: 4), head("conv4_3_norm", 512), head("conv5_3_norm", 512),
      head("fc7", 1024), head("conv6_2", 512), head("conv7_2", 256),
    ]
  }

  /// Loads a converted checkpoint (scripts/convert_checkpoints.py s3fd).
  public init(checkpoint: SafeTensorsFile) throws {
    self.init()
    try load(from: checkpoint)
  }

  public var namedParameters: [(name: String, parameter: Parameter)] {
    var children: [(String, any Layer)] = trunk.map { ($0.name, $0.conv) }
    children += norms.map { ("", $0) }
    for h in detectionHeads { children += [(h.name + "_mbox_conf", h.conf), (h.name + "_mbox_loc", h.loc)] }
    return ParameterTree.join(children)
  }

  /// The package's L2Norm: `x / (‖x‖₂ over channels + 1e-10) · weight`.
  static func l2Normalized(_ x: Tensor, weight: Tensor) -> Tensor {
    x / (x.squared().sum(axis: 1, keepDims: true).sqrt() + 1e-10) * weight.reshaped([1, -1, 1, 1])
  }

  /// The twelve head outputs `[cls1, reg1, …, cls6, reg6]` for a preprocessed [N, 3, H, W] image.
  public func heads(_ x: Tensor) -> [Tensor] {
    precondition(x.rank == 4 && x.shape[1] == 3, "S3FD: input must be [N, 3, H, W] BGR, got \(x.shape)")
    var h = x
    var taps: [Tensor] = []
    // ReLU after every conv; conv3_3, conv4_3, conv5_3, fc7, conv6_2 and conv7_2 feed the heads;
    // 2×2 max pools close the five VGG stages.
    for layer in trunk {
      h = layer.conv(h).relu()
      switch layer.name {
      case "conv1_2", "conv2_2": h = h.maxPool2d(kernel: 2, stride: 2)
      case "conv3_3", "conv4_3", "conv5_3":
        taps.append(h)
        h = h.maxPool2d(kernel: 2, stride: 2)
      case "fc7", "conv6_2", "conv7_2": taps.append(h)
      default: break
      }
    }
    for k in 0..<3 { taps[k] = Self.l2Normalized(taps[k], weight: norms[k].tensor) }
    var outputs: [Tensor] = []
    for (k, head) in detectionHeads.enumerated() {
      var cls = head.conf(taps[k])
      if k == 0 { cls = Self.maxOutBackground(cls) }
      outputs += [cls, head.loc(taps[k])]
    }
    return outputs
  }

  /// The package's max-out of the first head: background = max of the first three of four
  /// scores, face = the fourth. (Detection only; no gradient.)
  static func maxOutBackground(_ cls: Tensor) -> Tensor {
    let (n, h, w) = (cls.shape[0], cls.shape[2], cls.shape[3])
    let plane = h * w
    return cls.withUnsafeBufferPointer { src in
      Tensor(shape: [n, 2, h, w]) { dst in
        for b in 0..<n {
          let s = b * 4 * plane, d = b * 2 * plane
          for i in 0..<plane {
            dst[d + i] = max(max(src[s + i], src[s + plane + i]), src[s + 2 * plane + i])
            dst[d + plane + i] = src[s + 3 * plane + i]
          }
        }
      }
    }
  }

  /// RGB pixels in 0…255, [N, 3, H, W] → the network's input: BGR minus `bgrMeans`.
  public static func preprocess(rgb: Tensor) -> Tensor {
    precondition(rgb.rank == 4 && rgb.shape[1] == 3, "S3FD: image must be [N, 3, H, W] RGB, got \(rgb.shape)")
    let bgr = Tensor.concat([rgb.slice(axis: 1, 2..<3), rgb.slice(axis: 1, 1..<2), rgb.slice(axis: 1, 0..<1)], axis: 1)
    return bgr - Tensor(bgrMeans, shape: [1, 3, 1, 1])
  }

  public func callAsFunction(_ x: Tensor) -> [Tensor] { heads(x) }
}

extension S3FD {
  /// Loads a converted checkpoint file (scripts/convert_checkpoints.py).
  public init(contentsOf url: URL) throws {
    try self.init(checkpoint: SafeTensorsFile(contentsOf: url))
  }
}
