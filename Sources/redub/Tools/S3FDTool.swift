import ArgumentParser
import Foundation
import Networks
import Tensors

struct S3FDTool: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "s3fd",
    abstract: "S3FD face detection: the six head pairs and the faces found.",
    discussion: """
      Reads `input` [N, 3, H, W] from --inputs: BGR pixels minus (104, 117, 123) as the network \
      takes them, or with --rgb RGB pixels in 0…255. Writes `out0`…`out11` (the (classification, \
      regression) pairs before softmax) and, per image b, `faces.b` [K, 5] = (x1, y1, x2, y2, \
      score) after face-alignment's softmax, prior decoding, NMS (0.3) and score filter (0.5).
      """)

  @OptionGroup var runtime: RuntimeOptions
  @OptionGroup var files: NetworkToolFiles

  @Flag(help: "The input is RGB in 0…255; convert it to the network's BGR-minus-means first.")
  var rgb = false

  func run() throws {
    runtime.apply()
    let s3fd = try S3FD(contentsOf: URL(fileURLWithPath: files.weights))
    let inputs = try SafeTensorsFile(contentsOf: URL(fileURLWithPath: files.inputs))
    var input = try inputs.tensor("input")
    guard input.rank == 4, input.shape[1] == 3 else { throw ValidationError("input must be [N, 3, H, W], got \(input.shape)") }
    if rgb { input = S3FD.preprocess(rgb: input) }
    let heads = s3fd.heads(input)
    var outputs: [String: Tensor] = [:]
    for (i, head) in heads.enumerated() { outputs["out\(i)"] = head }
    for (b, faces) in S3FDPostprocessing().faces(heads).enumerated() {
      outputs["faces.\(b)"] = Tensor(faces.flatMap { [$0.x1, $0.y1, $0.x2, $0.y2, $0.score].map(Float.init) },
                                     shape: [faces.count, 5])
    }
    try writeNetworkOutputs(outputs, tool: "s3fd", to: files.output)
  }
}
