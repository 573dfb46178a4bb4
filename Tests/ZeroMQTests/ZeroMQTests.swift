import Foundation
import XCTest
import ZeroMQ

final class ZeroMQTests: XCTestCase {
  func testVersionIsLinkedLibzmq() {
    let linked = ZeroMQ.version
    XCTAssertGreaterThanOrEqual(linked, ZMQVersion(major: 4, minor: 0, patch: 0))
    XCTAssertEqual(linked.description, "\(linked.major).\(linked.minor).\(linked.patch)")
  }

  func testPairRoundTripOverInproc() throws {
    let context = try ZMQContext()
    let server = try ZMQSocket(context, type: .pair)
    let client = try ZMQSocket(context, type: .pair)
    try server.bind("inproc://pair-round-trip")
    try client.connect("inproc://pair-round-trip")
    try client.set(.receiveTimeout, 2000)
    try server.set(.receiveTimeout, 2000)

    try client.send(Array("ping".utf8))
    XCTAssertEqual(try server.receive(), Array("ping".utf8))

    let payload = Data((0..<10_000).map { UInt8($0 % 251) })
    try server.send(payload)
    XCTAssertEqual(try client.receiveData(), payload)

    // An empty frame is a valid message and must survive the trip.
    try client.send([UInt8]())
    XCTAssertEqual(try server.receive(), [])
  }

  func testDealerRouterMultipartCarriesRoutingID() throws {
    let context = try ZMQContext()
    let router = try ZMQSocket(context, type: .router)
    let dealer = try ZMQSocket(context, type: .dealer)
    try router.set(.receiveTimeout, 2000)
    try dealer.set(.receiveTimeout, 2000)
    try router.set(.routerMandatory, true)
    let workerID = Array("worker-7".utf8)
    try dealer.set(.routingID, workerID)
    XCTAssertEqual(try dealer.bytes(.routingID), workerID)

    try router.bind("inproc://dealer-router")
    try dealer.connect("inproc://dealer-router")

    let request: [[UInt8]] = [Array("task".utf8), [], [0, 1, 2, 255]]
    try dealer.sendMultipart(request)
    let received = try router.receiveMultipart()
    XCTAssertEqual(received, [workerID] + request)

    let reply = [Data("done".utf8), Data([42])]
    try router.sendMultipart([Data(workerID)] + reply)
    XCTAssertEqual(try dealer.receiveMultipartData(), reply)

    // With ROUTER_MANDATORY an unknown peer is an error, not a silent drop.
    XCTAssertThrowsError(try router.sendMultipart([Array("nobody".utf8), [1]])) { error in
      XCTAssertEqual((error as? ZMQError)?.code, EHOSTUNREACH)
    }
  }

  func testReceiveTimeoutSurfacesAsEAGAIN() throws {
    let context = try ZMQContext()
    let socket = try ZMQSocket(context, type: .pull)
    try socket.bind("inproc://silent")
    try socket.set(.receiveTimeout, 50)
    XCTAssertEqual(try socket.int(.receiveTimeout), 50)

    let start = ContinuousClock.now
    do {
      _ = try socket.receive()
      XCTFail("receive returned although nothing was sent")
    } catch {
      XCTAssertEqual(error, .timedOut(operation: "zmq_msg_recv"))
      XCTAssertTrue(error.isTimeout)
      XCTAssertEqual(error.code, EAGAIN)
      XCTAssertFalse(error.message.isEmpty)
      XCTAssertTrue(error.description.contains("zmq_msg_recv"), error.description)
    }
    XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(40))

    // DONTWAIT reports the same condition without waiting.
    XCTAssertThrowsError(try socket.receiveMultipart(flags: .dontWait)) { error in
      XCTAssertTrue((error as? ZMQError)?.isTimeout == true)
    }
  }

  func testOtherErrorsKeepCodeAndMessage() throws {
    let context = try ZMQContext()
    let socket = try ZMQSocket(context, type: .pair)
    XCTAssertThrowsError(try socket.bind("nonsense://here")) { error in
      guard let error = error as? ZMQError else { return XCTFail("not a ZMQError: \(error)") }
      XCTAssertFalse(error.isTimeout)
      XCTAssertEqual(error.code, EPROTONOSUPPORT)
      XCTAssertTrue(error.description.contains("nonsense://here"), error.description)
    }
    XCTAssertThrowsError(try socket.set(.curveServerKey, "too short")) { error in
      XCTAssertEqual((error as? ZMQError)?.code, EINVAL)
    }
  }

  func testPollerReportsOnlyTheReadySocket() throws {
    let context = try ZMQContext()
    let pullA = try ZMQSocket(context, type: .pull)
    let pullB = try ZMQSocket(context, type: .pull)
    let push = try ZMQSocket(context, type: .push)
    try pullA.bind("inproc://poll-a")
    try pullB.bind("inproc://poll-b")
    try push.connect("inproc://poll-b")

    var poller = ZMQPoller()
    let indexA = poller.register(pullA)
    let indexB = poller.register(pullB)
    XCTAssertEqual(poller.count, 2)

    let idle = try poller.poll(timeout: .milliseconds(20))
    XCTAssertEqual(idle.map(\.isEmpty), [true, true])

    try push.send([7])
    let ready = try poller.poll(timeout: .seconds(2))
    XCTAssertFalse(ready[indexA].contains(.readable))
    XCTAssertTrue(ready[indexB].contains(.readable))
    XCTAssertEqual(try pullB.receive(flags: .dontWait), [7])

    let drained = try poller.poll(timeout: .zero)
    XCTAssertFalse(drained[indexB].contains(.readable))
  }

  func testPollerWatchesAFileDescriptorBesideSockets() throws {
    let context = try ZMQContext()
    let pull = try ZMQSocket(context, type: .pull)
    try pull.bind("inproc://poll-fd")
    var fds: [Int32] = [0, 0]
    XCTAssertEqual(pipe(&fds), 0)
    defer { close(fds[0]); close(fds[1]) }

    var poller = ZMQPoller()
    let socketIndex = poller.register(pull)
    let pipeIndex = poller.register(fileDescriptor: fds[0])
    XCTAssertEqual(poller.count, 2)
    XCTAssertEqual(try poller.poll(timeout: .milliseconds(20)).map(\.isEmpty), [true, true])

    var byte: UInt8 = 1
    XCTAssertEqual(write(fds[1], &byte, 1), 1)
    let ready = try poller.poll(timeout: .seconds(2))
    XCTAssertTrue(ready[pipeIndex].contains(.readable))
    XCTAssertFalse(ready[socketIndex].contains(.readable))
    XCTAssertEqual(read(fds[0], &byte, 1), 1)
    XCTAssertFalse(try poller.poll(timeout: .zero)[pipeIndex].contains(.readable))
  }

  func testLargeFramesArriveIntactWithoutACopyAndOutliveTheirSocket() throws {
    let large = Data((0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
    let small = Data("header".utf8)
    var received: [Data] = []
    do {
      let context = try ZMQContext()
      let pull = try ZMQSocket(context, type: .pull)
      let push = try ZMQSocket(context, type: .push)
      try pull.bind("tcp://127.0.0.1:*")
      try push.connect(try pull.lastEndpoint)
      try push.sendMultipart([small, large])
      try push.send(large)
      received = try pull.receiveMultipartData()
      received.append(try pull.receiveData())
    }
    // The sockets and context are gone; the frames' bytes stay valid.
    XCTAssertEqual(received, [small, large, large])
  }

  func testCurveKeyPairIsZ85() throws {
    try XCTSkipUnless(CurveKeyPair.isSupported, "libzmq built without CURVE")
    let keys = try CurveKeyPair.generate()
    let z85 = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")
    for key in [keys.publicKey, keys.secretKey] {
      XCTAssertEqual(key.count, 40)
      XCTAssertTrue(key.allSatisfy(z85.contains), key)
    }
    XCTAssertNotEqual(keys.publicKey, keys.secretKey)
    XCTAssertNotEqual(try CurveKeyPair.generate(), keys)
    XCTAssertEqual(try CurveKeyPair(secretKey: keys.secretKey), keys)
    XCTAssertFalse("\(keys)".contains(keys.secretKey))
  }

  func testCurveEncryptedRoundTripOverLoopbackTCP() throws {
    try XCTSkipUnless(CurveKeyPair.isSupported, "libzmq built without CURVE")
    let serverKeys = try CurveKeyPair.generate()
    let clientKeys = try CurveKeyPair.generate()
    let context = try ZMQContext()

    let server = try ZMQSocket(context, type: .router)
    try server.configureCurveServer(keys: serverKeys, zapDomain: "redub-test")
    XCTAssertEqual(try server.int(.curveServer), 1)
    XCTAssertEqual(try server.string(.zapDomain), "redub-test")
    try server.set(.receiveTimeout, 5000)
    try server.bind("tcp://127.0.0.1:*")
    let endpoint = try server.lastEndpoint
    XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:"), endpoint)
    XCTAssertNotEqual(endpoint, "tcp://127.0.0.1:*")

    let client = try ZMQSocket(context, type: .dealer)
    try client.configureCurveClient(serverPublicKey: serverKeys.publicKey, keys: clientKeys)
    XCTAssertEqual(try client.string(.curvePublicKey), clientKeys.publicKey)
    XCTAssertEqual(try client.bytes(.curveServerKey).count, 32)
    try client.set(.receiveTimeout, 5000)
    try client.set(.routingID, Array("curve-client".utf8))
    try client.connect(endpoint)

    try client.sendMultipart([Array("hello".utf8), Array("secret frame".utf8)])
    let request = try server.receiveMultipart()
    XCTAssertEqual(request, [Array("curve-client".utf8), Array("hello".utf8), Array("secret frame".utf8)])

    try server.sendMultipart([request[0], Array("welcome".utf8)])
    XCTAssertEqual(try client.receiveMultipart(), [Array("welcome".utf8)])

    try client.disconnect(endpoint)
    try server.unbind(endpoint)
  }

  func testClientWithWrongServerKeyNeverGetsThrough() throws {
    try XCTSkipUnless(CurveKeyPair.isSupported, "libzmq built without CURVE")
    let serverKeys = try CurveKeyPair.generate()
    let impostorKeys = try CurveKeyPair.generate()
    let context = try ZMQContext()

    let server = try ZMQSocket(context, type: .router)
    try server.configureCurveServer(keys: serverKeys)
    try server.set(.receiveTimeout, 300)
    try server.bind("tcp://127.0.0.1:*")

    let client = try ZMQSocket(context, type: .dealer)
    try client.configureCurveClient(serverPublicKey: impostorKeys.publicKey, keys: try .generate())
    try client.connect(try server.lastEndpoint)
    try client.send(Array("let me in".utf8), flags: .dontWait)

    XCTAssertThrowsError(try server.receiveMultipart()) { error in
      XCTAssertTrue((error as? ZMQError)?.isTimeout == true, "\(error)")
    }
  }
}
