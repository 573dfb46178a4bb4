import Foundation
import Logging
import ZeroMQ

/// The coordinator's bulk thread: serves blob downloads and uploads in 1 MiB chunks on its own
/// ROUTER socket, with credit-based flow control (a sender never has more chunks in flight than
/// the receiver granted), resumable from any offset, hash-checked on arrival.
final class BulkServer {
  /// Chunks a receiver may have in flight at most (16 MiB): enough to keep loopback and the
  /// receiver's write busy through a scheduling hiccup on either side.
  static let maxCredit: UInt32 = 16
  /// A transfer with no traffic for this long is dropped (its partial file stays for a resume).
  static let idleTimeout: Duration = .seconds(60)

  struct Download {
    var hash: String
    var size: UInt64
    var offset: UInt64
    var credit: UInt32
    /// The blob: its file in the blob store mapped into memory (chunks go to ZeroMQ straight
    /// from the page cache, without a read into a buffer first), or a small artifact's bytes
    /// from the database.
    var bytes: Data
    var lastActive: ContinuousClock.Instant
  }

  struct Upload {
    var partial: PartialBlob
    var lastActive: ContinuousClock.Instant
  }

  struct Key: Hashable {
    var peer: Data
    var transfer: UInt64
  }

  let coordinator: Coordinator
  let socket: ZMQSocket
  let endpoint: String
  let logger: Logger
  let clock = ContinuousClock()
  var downloads: [Key: Download] = [:]
  var uploads: [Key: Upload] = [:]
  var malformed = 0
  var lastSweep: ContinuousClock.Instant

  init(coordinator: Coordinator) throws {
    self.coordinator = coordinator
    self.logger = coordinator.configuration.logger
    socket = try ZMQSocket(coordinator.context, type: .router)
    try coordinator.secure(socket)
    try socket.set(.routerMandatory, true)
    try socket.setRouterHandover(true)
    try socket.setMaxMessageSize(Wire.maxBulkMessage)
    try socket.set(.sendHighWaterMark, 10_000)
    try socket.bind(coordinator.configuration.bulkEndpoint)
    endpoint = try socket.lastEndpoint
    lastSweep = clock.now
  }

  func run() {
    var poller = ZMQPoller()
    poller.register(socket)
    while !coordinator.stopping.load(ordering: .relaxed) {
      do {
        let ready = try poller.poll(timeout: .milliseconds(100))
        if ready[0].contains(.readable) {
          for _ in 0..<1000 {
            guard let (frames, userID) = try? socket.receiveMultipartData(flags: .dontWait, property: "User-Id") else { break }
            handle(frames, userID: userID)
          }
        }
      } catch let error where error.code == EINTR {
        continue
      } catch {
        logger.error("bulk poll failed: \(error)")
        break
      }
      for upload in uploads.values where upload.partial.needsCatchUp {
        try? upload.partial.catchUp(for: .milliseconds(10))
      }
      if clock.now - lastSweep > .seconds(5) { sweep() }
    }
  }

  private func noteMalformed(_ peer: Data, _ detail: String) {
    malformed += 1
    coordinator.malformed.add(1, ordering: .relaxed)
    if malformed <= 10 || malformed % 1000 == 0 {
      logger.warning("bulk: malformed message #\(malformed) from \(printable(peer)): \(detail)")
    }
  }

  func handle(_ frames: [Data], userID: String?) {
    guard frames.count == 2 || frames.count == 3 else {
      noteMalformed(frames.first ?? Data(), "\(frames.count) frames")
      return
    }
    let peer = frames[0]
    if let userID, let zap = coordinator.zapHandler, !zap.allowedKeys.contains(userID) {
      dropPeer(peer)
      return
    }
    let envelope: Redub_V1_Envelope
    do { envelope = try Wire.decodeBulk(Array(frames.dropFirst())) } catch {
      noteMalformed(peer, "\(error)")
      return
    }
    switch envelope.body {
    case .blobGet(let get): startDownload(get, peer: peer)
    case .blobCredit(let credit): addCredit(credit, peer: peer)
    case .blobPutBegin(let begin): startUpload(begin, peer: peer)
    case .blobChunk(let chunk): receiveChunk(chunk, peer: peer)
    default: noteMalformed(peer, "unexpected message on the bulk socket")
    }
  }

  private func send(_ peer: Data, _ body: Redub_V1_Envelope.OneOf_Body) -> Bool {
    do {
      try socket.sendMultipart([peer, Wire.encode(body)], flags: .dontWait)
      return true
    } catch {
      return false
    }
  }

  private func sendFrames(_ peer: Data, _ frames: [Data]) -> Bool {
    do {
      try socket.sendMultipart([peer] + frames, flags: .dontWait)
      return true
    } catch {
      return false
    }
  }

  private func fail(_ peer: Data, _ transfer: UInt64, _ detail: String) {
    logger.warning("bulk: transfer \(transfer) from \(printable(peer)): \(detail)")
    _ = send(peer, .blobError(.with { $0.transferID = transfer; $0.detail = detail }))
  }

  private func dropPeer(_ peer: Data) {
    for key in downloads.keys where key.peer == peer { downloads[key] = nil }
    for key in uploads.keys where key.peer == peer { uploads[key] = nil }
  }

  // MARK: Downloads (coordinator -> worker)

  func startDownload(_ get: Redub_V1_BlobGet, peer: Data) {
    let key = Key(peer: peer, transfer: get.transferID)
    var bytes: Data?
    if BlobStore.isValidHash(get.sha256), let url = try? coordinator.blobs.url(for: get.sha256) {
      bytes = try? Data(contentsOf: url, options: .alwaysMapped)
      // A small artifact lives in the database rather than as a file.
      if bytes == nil { bytes = (try? coordinator.artifacts.store.smallBlob(get.sha256)) ?? nil }
    }
    guard let bytes else {
      fail(peer, get.transferID, "no blob \(get.sha256.prefix(64))")
      return
    }
    let size = UInt64(bytes.count)
    guard get.offset <= size else {
      fail(peer, get.transferID, "offset \(get.offset) is past the blob's size \(size)")
      return
    }
    guard downloads.count < 4096 else {
      fail(peer, get.transferID, "too many transfers; retry later")
      return
    }
    if get.offset > 0 { logger.info("bulk: resuming \(get.sha256.prefix(12)) for \(printable(peer)) from offset \(get.offset)") }
    downloads[key] = Download(hash: get.sha256, size: size, offset: get.offset, credit: min(get.credit, BulkServer.maxCredit),
                              bytes: bytes, lastActive: clock.now)
    pump(key)
  }

  func addCredit(_ credit: Redub_V1_BlobCredit, peer: Data) {
    let key = Key(peer: peer, transfer: credit.transferID)
    guard var download = downloads[key] else { return }
    download.credit = min(download.credit + credit.credit, BulkServer.maxCredit)
    download.lastActive = clock.now
    downloads[key] = download
    pump(key)
  }

  /// Sends chunks while the receiver has credit; the last chunk ends the transfer.
  private func pump(_ key: Key) {
    guard var download = downloads[key] else { return }
    while download.credit > 0 {
      let start = download.bytes.startIndex + Int(download.offset)
      // A slice shares the mapping; ZeroMQ copies it once, from the page cache.
      let data = download.bytes[start..<min(start + Wire.chunkSize, download.bytes.endIndex)]
      let last = download.offset + UInt64(data.count) >= download.size
      var chunk = Redub_V1_BlobChunk()
      chunk.transferID = key.transfer
      chunk.offset = download.offset
      chunk.data = data
      chunk.last = last
      let sent = sendFrames(key.peer, Wire.chunkFrames(chunk))
      if sent { coordinator.metrics.bytesToWorkers.increment(by: Int64(data.count)) }
      guard sent, !last else {
        downloads[key] = nil
        return
      }
      download.offset += UInt64(data.count)
      download.credit -= 1
    }
    downloads[key] = download
  }

  // MARK: Uploads (worker -> coordinator)

  func startUpload(_ begin: Redub_V1_BlobPutBegin, peer: Data) {
    let key = Key(peer: peer, transfer: begin.transferID)
    guard BlobStore.isValidHash(begin.sha256) else {
      fail(peer, begin.transferID, "bad blob name")
      return
    }
    if coordinator.artifacts.size(of: begin.sha256) == begin.size {
      _ = send(peer, .blobPutReady(.with { $0.transferID = begin.transferID; $0.offset = begin.size; $0.credit = 0 }))
      _ = send(peer, .blobPutDone(.with { $0.transferID = begin.transferID; $0.sha256 = begin.sha256 }))
      return
    }
    guard uploads.count < 4096 else {
      fail(peer, begin.transferID, "too many transfers; retry later")
      return
    }
    do {
      let partial = try coordinator.blobs.receive(begin.sha256, size: begin.size)
      uploads[key] = Upload(partial: partial, lastActive: clock.now)
      if partial.offset > 0 { logger.info("bulk: upload of \(begin.sha256.prefix(12)) resumes at \(partial.offset)") }
      _ = send(peer, .blobPutReady(.with {
        $0.transferID = begin.transferID; $0.offset = partial.offset; $0.credit = BulkServer.maxCredit
      }))
      if partial.isComplete { finishUpload(key) }
    } catch {
      fail(peer, begin.transferID, "\(error)")
    }
  }

  func receiveChunk(_ chunk: Redub_V1_BlobChunk, peer: Data) {
    let key = Key(peer: peer, transfer: chunk.transferID)
    guard let upload = uploads[key] else {
      fail(peer, chunk.transferID, "no upload in progress with this id")
      return
    }
    do {
      // Credit first, so the worker sends on while this chunk is written and hashed.
      if upload.partial.offset + UInt64(chunk.data.count) < upload.partial.size {
        _ = send(peer, .blobCredit(.with { $0.transferID = chunk.transferID; $0.credit = 1 }))
      }
      try upload.partial.append(chunk.data, at: chunk.offset)
      coordinator.metrics.bytesFromWorkers.increment(by: Int64(chunk.data.count))
      uploads[key]?.lastActive = clock.now
      if upload.partial.isComplete { finishUpload(key) }
    } catch {
      uploads[key] = nil
      fail(peer, chunk.transferID, "\(error)")
    }
  }

  private func finishUpload(_ key: Key) {
    guard let upload = uploads.removeValue(forKey: key) else { return }
    do {
      try upload.partial.finish()
      _ = send(key.peer, .blobPutDone(.with { $0.transferID = key.transfer; $0.sha256 = upload.partial.hash }))
    } catch {
      fail(key.peer, key.transfer, "\(error)")
    }
  }

  /// Drops transfers whose peer went quiet (the partial files stay for a resume).
  private func sweep() {
    lastSweep = clock.now
    for (key, download) in downloads where clock.now - download.lastActive > BulkServer.idleTimeout {
      downloads[key] = nil
    }
    for (key, upload) in uploads where clock.now - upload.lastActive > BulkServer.idleTimeout {
      uploads[key] = nil
    }
  }
}
