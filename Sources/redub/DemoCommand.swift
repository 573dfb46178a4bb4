import ArgumentParser
import Foundation
import Media
import Tensors
import ZeroMQ

struct DemoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "demo",
    abstract: "Run the built-in demo: everything this build of redub can do, on built-in data.",
    discussion: """
      The dubbing pipeline end to end (audio-to-landmarks, inversion, tuning, window \
      optimization and compositing as one job) is not built yet. Until it is, the demo \
      exercises parts that exist: the tensor engine with autodiff (training small networks), \
      the ZeroMQ wire with CURVE encryption, and the FFmpeg libraries. The networks \
      (`redub tools network`), media tools (`redub tools probe|mfcc|remux`) and the farm \
      (`redub coordinator`, `redub worker`, `redub submit --diagnostic`) have their own commands.
      """)

  @OptionGroup var runtime: RuntimeOptions

  @Option(help: "Optimization steps for the training demos.")
  var steps = 150

  func validate() throws {
    if steps < 1 { throw ValidationError("--steps must be at least 1.") }
  }

  func run() throws {
    runtime.apply()
    print("""
      redub \(RedubVersion.string) demo — \(Runtime.threads) thread(s)
      The re-dubbing pipeline itself is not built yet; this demo runs what exists today.

      """)
    try trainConvolutionalDenoiser()
    try trainSequenceModel()
    try encryptedTensorRoundTrip()
    reportMedia()
    print("""

      Demo finished. Also available: `redub tools network|probe|mfcc|remux`, the farm \
      (`redub coordinator`, `redub worker`, `redub submit --diagnostic sum`) and `redub bench`.
      Not yet available: `redub edit` (the dubbing job end to end) and trained models.
      """)
  }

  /// A two-layer conv net learns to remove noise from a synthetic face-like image.
  func trainConvolutionalDenoiser() throws {
    print("1. Tensor engine: a 2-layer conv net learns to denoise a 64×64 image (Adam, autodiff).")
    let clean = syntheticImage(size: 64)
    let noisy = clean + Tensor.randomNormal(clean.shape, standardDeviation: 0.2, seed: 7)
    let w1 = Parameter(Tensor.randomNormal([16, 3, 3, 3], standardDeviation: 0.2, seed: 1))
    let b1 = Parameter(Tensor(zeros: [16]))
    let w2 = Parameter(Tensor.randomNormal([3, 16, 3, 3], standardDeviation: 0.05, seed: 2))
    let b2 = Parameter(Tensor(zeros: [3]))
    let parameters = [w1, b1, w2, b2]
    var adam = Adam(learningRate: 1e-2)
    var bar = ProgressBar(title: "   training", total: steps)
    let baseline = (noisy - clean).squared().mean().item()
    var loss: Float = 0
    for step in 1...steps {
      let hidden = Tensor.conv2d(noisy, weight: w1.tensor, bias: b1.tensor, padding: 1).leakyRelu(slope: 0.2)
      let residual = Tensor.conv2d(hidden, weight: w2.tensor, bias: b2.tensor, padding: 1)
      let objective = (noisy + residual - clean).squared().mean()
      loss = objective.item()
      objective.backward()
      adam.step(parameters)
      bar.update(step, note: String(format: "mse %.5f", loss))
    }
    print(String(format: "   mean squared error: %.5f (noisy input) → %.5f (denoised), %.1f× lower\n",
                 baseline, loss, baseline / max(loss, 1e-12)))
  }

  /// An LSTM learns to continue a sine wave one step ahead.
  func trainSequenceModel() throws {
    print("2. Tensor engine: an LSTM learns to predict the next sample of a sine wave.")
    let steps = 40, hidden = 16
    let wave = (0...steps).map { Float(sin(Double($0) * 0.3)) }
    let inputs = Tensor(Array(wave.dropLast()), shape: [steps, 1, 1])
    let targets = Tensor(Array(wave.dropFirst()), shape: [steps, 1, 1])
    let lstm = LSTM(inputSize: 1, hiddenSize: hidden, seed: 3)
    let readout = Parameter(Tensor.randomNormal([1, hidden], standardDeviation: 0.3, seed: 4))
    var adam = Adam(learningRate: 2e-2)
    var bar = ProgressBar(title: "   training", total: self.steps)
    var first: Float = 0, loss: Float = 0
    for step in 1...self.steps {
      let (out, _, _) = lstm(inputs)
      let objective = (Tensor.linear(out, weight: readout.tensor) - targets).squared().mean()
      loss = objective.item()
      if step == 1 { first = loss }
      objective.backward()
      adam.step(lstm.parameters + [readout])
      bar.update(step, note: String(format: "mse %.5f", loss))
    }
    print(String(format: "   prediction error: %.5f → %.5f\n", first, loss))
  }

  /// Latents travel as safetensors over a CURVE-encrypted ZeroMQ connection on loopback.
  func encryptedTensorRoundTrip() throws {
    print("3. Wire: a W+ latent window (8×18×512) crosses a CURVE-encrypted ZeroMQ link on 127.0.0.1.")
    let context = try ZMQContext()
    let serverKeys = try CurveKeyPair.generate(), clientKeys = try CurveKeyPair.generate()
    let server = try ZMQSocket(context, type: .router)
    try server.configureCurveServer(keys: serverKeys)
    try server.set(.receiveTimeout, 5000)
    try server.bind("tcp://127.0.0.1:*")
    let endpoint = try server.lastEndpoint
    let client = try ZMQSocket(context, type: .dealer)
    try client.configureCurveClient(serverPublicKey: serverKeys.publicKey, keys: clientKeys)
    try client.set(.receiveTimeout, 5000)
    try client.connect(endpoint)
    let latents = Tensor.randomNormal([8, 18, 512], seed: 11)
    let payload = SafeTensors.serialize(["latents": latents], metadata: ["window": "0"])
    try client.send(payload)
    let frames = try server.receiveMultipartData()
    let received = try SafeTensorsFile(data: frames[frames.count - 1]).tensor("latents")
    try server.sendMultipart([frames[0], Data("ack".utf8)])
    let reply = try client.receiveData()
    let identical = received.scalars == latents.scalars
    print("   \(payload.count) bytes via \(endpoint), encrypted; contents identical: \(identical); reply: \(String(decoding: reply, as: UTF8.self))\n")
  }

  func reportMedia() {
    print("4. Media: \(FFmpegLibraries.summary)")
    for name in ["libx264", "aac"] {
      print("   encoder \(name): \(FFmpegLibraries.hasEncoder(named: name) ? "available" : "missing")")
    }
  }

  /// A smooth synthetic image: a bright ellipse ("face") on a gradient, values in [-1, 1].
  func syntheticImage(size: Int) -> Tensor {
    Tensor(shape: [1, 3, size, size]) { buf in
      for c in 0..<3 {
        for y in 0..<size {
          for x in 0..<size {
            let u = (Double(x) / Double(size) - 0.5) / 0.3, v = (Double(y) / Double(size) - 0.5) / 0.4
            let inside = u * u + v * v < 1 ? 0.8 : -0.5
            buf[(c * size + y) * size + x] = Float(inside * (1 - 0.2 * Double(c)) + 0.2 * Double(x) / Double(size))
          }
        }
      }
    }
  }
}
