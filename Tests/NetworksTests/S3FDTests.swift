import Foundation
import Networks
import Tensors
import TestSupport
import XCTest

final class S3FDTests: XCTestCase {
  func testHeadsMatchReference() throws {
    let fixture = try NetworkFixtures.open("ref_s3fd.safetensors")
    let s3fd = S3FD()
    try NetworkFixtures.loadFilled(s3fd, from: fixture)
    let outputs = s3fd.heads(try fixture.tensor("input"))
    XCTAssertEqual(outputs.count, 12)
    for (i, output) in outputs.enumerated() {
      assertMatches(output, try fixture.tensor("out\(i)"), tolerance: 1e-4, "s3fd out\(i)")
    }
  }

  /// The package's softmax, prior decoding, NMS (0.3) and score filter (0.5) on the fixture's
  /// head outputs, computed with face-alignment 1.5.0's numpy code: 1,415 candidates, 20 faces.
  static let expectedFaces: [[Double]] = [
    [268.9061527252197, -142.84561157226562, 296.66803550720215, 545.8716125488281, 0.999998927116394],
    [221.3614501953125, -326.1765022277832, 315.2256774902344, 576.632640838623, 0.9999984502792358],
    [253.25073146820068, -506.72900390625, 282.0552682876587, 919.1883544921875, 0.9999909400939941],
    [103.40437698364258, 41.79090118408203, 213.06057357788086, 346.1417922973633, 0.9999803304672241],
    [142.53965759277344, -959.7432670593262, 266.3294219970703, 1120.8477973937988, 0.9999788999557495],
    [167.81578254699707, 134.31924438476562, 222.28881645202637, 422.7083740234375, 0.9999346733093262],
    [143.36094856262207, -101.04322052001953, 196.33477592468262, 604.9435348510742, 0.9998842477798462],
    [11.426153182983398, 67.94169998168945, 137.90929222106934, 320.6246681213379, 0.9994869232177734],
    [175.76877403259277, -554.4809074401855, 232.2561435699463, 730.0898933410645, 0.9988470077514648],
    [235.30234146118164, -1869.0198907852173, 338.4182243347168, 2122.9232244491577, 0.9981075525283813],
    [-16.10556411743164, 21.816280364990234, 141.07546615600586, 135.26965713500977, 0.9965267777442932],
    [122.0064868927002, -80.92541790008545, 180.1875286102295, 143.4060182571411, 0.9920622110366821],
    [169.78080940246582, -117.34113502502441, 231.13202476501465, 210.5399990081787, 0.9876062273979187],
    [58.60593032836914, -33.07193374633789, 170.24444198608398, 204.9843406677246, 0.9702145457267761],
    [214.5982723236084, 168.9784927368164, 324.839635848999, 292.23958587646484, 0.9157301187515259],
    [207.63589668273926, 80.8561782836914, 230.77694511413574, 452.2288284301758, 0.9036484360694885],
    [42.69654846191406, 102.70824813842773, 146.04542541503906, 191.85740280151367, 0.8613899350166321],
    [-117.70270729064941, -243.49057006835938, 475.41820335388184, 186.53500366210938, 0.760733425617218],
    [156.41908264160156, 136.09427452087402, 279.534423828125, 246.83289909362793, 0.7086307406425476],
    [187.86443710327148, -112.39636528491974, 280.164249420166, 403.55407416820526, 0.6586877107620239],
  ]

  func testPostprocessingMatchesThePackage() throws {
    let fixture = try NetworkFixtures.open("ref_s3fd.safetensors")
    let heads = try (0..<12).map { try fixture.tensor("out\($0)") }
    let post = S3FDPostprocessing()
    XCTAssertEqual(post.candidates(heads)[0].count, 1415)
    let faces = post.faces(heads)
    XCTAssertEqual(faces.count, 1)
    XCTAssertEqual(faces[0].count, Self.expectedFaces.count)
    for (face, expected) in zip(faces[0], Self.expectedFaces) {
      let values = [face.x1, face.y1, face.x2, face.y2, face.score]
      for (v, e) in zip(values, expected) { XCTAssertEqual(v, e, accuracy: 1e-5 * max(1, Swift.abs(e)), "\(face)") }
    }
  }

  /// Heads for a 128² image whose face probabilities are ~0 except where `faces` says.
  func syntheticHeads(_ faces: [(head: Int, y: Int, x: Int, probability: Float, loc: [Float])]) -> [Tensor] {
    var heads: [Tensor] = []
    for k in 0..<6 {
      let side = [32, 16, 8, 8, 4, 2][k]
      var cls = Tensor(zeros: [1, 2, side, side]), reg = Tensor(zeros: [1, 4, side, side])
      for y in 0..<side { for x in 0..<side { cls[0, 0, y, x] = 20 } }
      for f in faces where f.head == k {
        cls[0, 0, f.y, f.x] = 0
        cls[0, 1, f.y, f.x] = Foundation.log(f.probability / (1 - f.probability))
        for c in 0..<4 { reg[0, c, f.y, f.x] = f.loc[c] }
      }
      heads += [cls, reg]
    }
    return heads
  }

  func testPriorDecodingNMSAndFilter() {
    let heads = syntheticHeads([
      (0, 5, 7, 0.99, [0.5, -0.5, Float(Foundation.log(2.0) / 0.2), 0]),  // stride 4: 32×16 box
      (0, 5, 8, 0.88, [0, 0, 0, 0]),  // overlaps the first (IoU 0.48): suppressed
      (3, 1, 1, 0.6, [0, 0, 0, 0]),  // stride 32: prior 128² at (48, 48); kept
      (5, 0, 0, 0.3, [0, 0, 0, 0]),  // a candidate, but below the 0.5 filter
    ])
    let post = S3FDPostprocessing()
    XCTAssertEqual(post.candidates(heads)[0].count, 4)
    let faces = post.faces(heads)[0]
    XCTAssertEqual(faces.count, 2)
    XCTAssertEqual(faces[0].x1, 30.8 - 16, accuracy: 1e-4)
    XCTAssertEqual(faces[0].y1, 21.2 - 8, accuracy: 1e-4)
    XCTAssertEqual(faces[0].x2, 30.8 + 16, accuracy: 1e-4)
    XCTAssertEqual(faces[0].y2, 21.2 + 8, accuracy: 1e-4)
    XCTAssertEqual(faces[0].score, 0.99, accuracy: 1e-6)
    XCTAssertEqual(faces[1], FaceBox(x1: -16, y1: -16, x2: 112, y2: 112, score: faces[1].score))
    XCTAssertEqual(faces[1].score, 0.6, accuracy: 1e-6)
    // A looser NMS keeps the overlapping box too; no candidates → no faces, no crash.
    XCTAssertEqual(S3FDPostprocessing(nmsThreshold: 0.5).faces(heads)[0].count, 3)
    XCTAssertEqual(post.faces(syntheticHeads([]))[0], [])
  }

  func testPreprocessingIsBGRMinusMeans() {
    let rgb = Tensor([10, 20, 30], shape: [1, 3, 1, 1])
    XCTAssertEqual(S3FD.preprocess(rgb: rgb).scalars, [30 - 104, 20 - 117, 10 - 123])
  }
}
