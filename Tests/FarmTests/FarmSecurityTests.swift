import Farm
import Foundation
import TestSupport
import XCTest
import ZeroMQ

/// CURVE on both sockets, the ZAP allowlist with its domain check, and revocation.
final class FarmSecurityTests: XCTestCase {
  func testOnlyAllowedKeysConnectAndARevokedWorkerIsDropped() throws {
    let keys = TemporaryFolder("keys")
    let server = keys.url.appendingPathComponent("coordinator")
    let serverKeys = try FarmKeys.generate(in: server, role: .coordinator)
    func clientFolder(_ name: String, allowed: Bool) throws -> URL {
      let folder = keys.url.appendingPathComponent(name)
      let pair = try FarmKeys.generate(in: folder, role: .client)
      try Data((serverKeys.publicKey + "\n").utf8).write(to: folder.appendingPathComponent("coordinator.pub"))
      if allowed { try FarmKeys.allow(pair.publicKey, name: name, in: server) }
      return folder
    }
    let trusted = try clientFolder("trusted", allowed: true)
    let stranger = try clientFolder("stranger", allowed: false)
    let operatorKeys = try clientFolder("operator", allowed: true)

    let farm = try FarmHarness(keys: server)
    let counter = ExecutionCounter()
    var registry = TaskRegistry()
    registry.register(CountingTask(counter: counter, delayMicroseconds: 0))
    try farm.addWorker("stranger", registry: registry, keys: stranger)
    let client = try farm.client(keys: operatorKeys)
    let job = try client.submit(makeJob("secure", count: 20, kind: CountingTask.kind) { Data(String($0).utf8) })
    // The stranger never gets in, so nothing runs.
    usleep(800_000)
    XCTAssertTrue(try client.workers().isEmpty)
    XCTAssertEqual(try client.status(job).tasksDone, 0)
    XCTAssertTrue(counter.snapshot.isEmpty, "a stranger ran tasks")
    // A client without an allowed key gets no answer either.
    XCTAssertThrowsError(try FarmClient(coordinator: farm.coordinator.controlEndpoint, keysDirectory: stranger,
                                        timeout: .milliseconds(500)).jobs())
    // Without CURVE at all: no answer.
    XCTAssertThrowsError(try FarmClient(coordinator: farm.coordinator.controlEndpoint, timeout: .milliseconds(500)).jobs())

    let worker = try farm.addWorker("trusted", registry: registry, keys: trusted)
    XCTAssertEqual(try client.wait(job, limit: .seconds(30)).state, "done")
    XCTAssertEqual(Set(try client.workers().map(\.workerID)), ["trusted"])
    XCTAssertEqual(try client.workers().first?.publicKey, try FarmKeys.loadClient(trusted).keys.publicKey)

    // Revoking the trusted key drops the worker: it is told goodbye and stops.
    XCTAssertTrue(try FarmKeys.revoke(try FarmKeys.loadClient(trusted).keys.publicKey, in: server))
    XCTAssertTrue(try eventually(10) { farm.workerExits["trusted"] != nil }, "revoked worker still running")
    let exit = farm.workerExits["trusted"] ?? ""
    XCTAssertTrue(exit.contains("revoked"), exit)
    XCTAssertTrue(try client.workers().isEmpty)
    XCTAssertGreaterThan(worker.tasksCompleted, 0)
    let events = try farm.coordinator.store.events(kind: "worker-revoked")
    XCTAssertEqual(events.map(\.worker), ["trusted"])
  }

  func testZAPHandlerEnforcesItsDomainAndAllowlist() throws {
    let context = try ZMQContext()
    let allowed = try CurveKeyPair.generate()
    let handler = try ZAPHandler(context: context, domain: "redub-farm", allowedKeys: [allowed.publicKey])
    defer { handler.stop() }
    let request = try ZMQSocket(context, type: .req)
    try request.set(.receiveTimeout, 2000)
    try request.connect("inproc://zeromq.zap.01")
    func ask(domain: String, mechanism: String, key: [UInt8]) throws -> [String] {
      try request.sendMultipart([Array("1.0".utf8), Array("7".utf8), Array(domain.utf8), Array("127.0.0.1".utf8), [],
                                 Array(mechanism.utf8), key])
      return try request.receiveMultipart().map { String(decoding: $0, as: UTF8.self) }
    }
    let allowedBinary = z85Decode(allowed.publicKey)
    let stranger = z85Decode(try CurveKeyPair.generate().publicKey)
    XCTAssertEqual(try ask(domain: "redub-farm", mechanism: "CURVE", key: allowedBinary).prefix(5),
                   ["1.0", "7", "200", "OK", allowed.publicKey])
    XCTAssertEqual(try ask(domain: "other", mechanism: "CURVE", key: allowedBinary)[2], "400")
    XCTAssertEqual(try ask(domain: "redub-farm", mechanism: "CURVE", key: stranger)[2], "400")
    XCTAssertEqual(try ask(domain: "redub-farm", mechanism: "NULL", key: [])[2], "400")
    handler.setAllowedKeys([])
    XCTAssertEqual(try ask(domain: "redub-farm", mechanism: "CURVE", key: allowedBinary)[2], "400")
  }

  func testKeyFilesAndAllowlistEditing() throws {
    let folder = TemporaryFolder("keys")
    let pair = try FarmKeys.generate(in: folder.url, role: .coordinator)
    XCTAssertThrowsError(try FarmKeys.generate(in: folder.url, role: .coordinator), "overwrote a key")
    XCTAssertEqual(try FarmKeys.loadServer(folder.url).keys, pair)
    let mode = try FileManager.default.attributesOfItem(atPath: folder.url.appendingPathComponent("coordinator.key").path)[.posixPermissions] as? NSNumber
    XCTAssertEqual(mode?.intValue, 0o600)
    let a = try CurveKeyPair.generate().publicKey, b = try CurveKeyPair.generate().publicKey
    try FarmKeys.allow(a, name: "gpu-01", in: folder.url)
    try FarmKeys.allow(b, in: folder.url)
    try FarmKeys.allow(a, in: folder.url)
    let allowlist = folder.url.appendingPathComponent("allowed_keys")
    XCTAssertEqual(FarmKeys.readAllowlist(allowlist), [a, b])
    XCTAssertTrue(try FarmKeys.revoke(a, in: folder.url))
    XCTAssertFalse(try FarmKeys.revoke(a, in: folder.url))
    XCTAssertEqual(FarmKeys.readAllowlist(allowlist), [b])
    XCTAssertThrowsError(try FarmKeys.allow("not-a-key", in: folder.url))
  }
}

/// Z85 text to its 32 bytes (the ZAP request carries the binary key).
func z85Decode(_ text: String) -> [UInt8] {
  let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
  var index = [UInt8: UInt32]()
  for (i, c) in alphabet.enumerated() { index[c] = UInt32(i) }
  var bytes: [UInt8] = []
  let chars = Array(text.utf8)
  for chunk in stride(from: 0, to: chars.count, by: 5) {
    var value: UInt32 = 0
    for c in chars[chunk..<chunk + 5] { value = value &* 85 &+ index[c]! }
    bytes += [UInt8(value >> 24), UInt8((value >> 16) & 255), UInt8((value >> 8) & 255), UInt8(value & 255)]
  }
  return bytes
}
