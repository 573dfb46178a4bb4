import Farm
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Why the monitor did not start.
public enum MonitorError: Error, CustomStringConvertible, Sendable {
  case badAddress(String)
  case cannotBind(String)

  public var description: String {
    switch self {
    case .badAddress(let detail): "bad --http address: \(detail)"
    case .cannotBind(let detail): "the web monitor cannot start: \(detail)"
    }
  }
}

/// A `--http` address: `HOST:PORT`, `[IPV6]:PORT`, `:PORT` or `PORT` (host 127.0.0.1).
public struct MonitorAddress: Sendable, Equatable, CustomStringConvertible {
  public var host: String
  public var port: Int

  public init(host: String = "127.0.0.1", port: Int) {
    self.host = host
    self.port = port
  }

  public init(parsing text: String) throws(MonitorError) {
    var host = "127.0.0.1"
    var portText = Substring(text)
    if text.hasPrefix("[") {
      guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
        throw MonitorError.badAddress("'\(text)': write [IPV6]:PORT")
      }
      host = String(text[text.index(after: text.startIndex)..<close])
      portText = text[text.index(close, offsetBy: 2)...]
    } else if let colon = text.lastIndex(of: ":") {
      if colon != text.startIndex { host = String(text[..<colon]) }
      portText = text[text.index(after: colon)...]
    }
    guard let port = Int(portText), (0...65535).contains(port), !host.isEmpty else {
      throw MonitorError.badAddress("'\(text)': write HOST:PORT, :PORT or PORT (port 0 picks a free one)")
    }
    self.init(host: host, port: port)
  }

  /// True for 127.0.0.0/8, ::1 and localhost: only this machine can connect.
  public var isLoopback: Bool {
    host == "localhost" || host == "::1" || host.hasPrefix("127.")
  }

  public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The coordinator's read-only web monitor: a self-refreshing HTML page, JSON endpoints with
/// the data of `redub status --json` and `redub workers --json`, running tasks' thumbnails
/// (`/api/tasks/TASK_ID/thumbnail.png`), and Prometheus `/metrics`.
///
/// It runs on one event-loop thread of its own plus Swift's concurrency pool; every database
/// read goes through `MonitorSource` (a read-only connection, one read at a time), and live
/// figures come from the snapshot the control thread publishes, so nothing here ever holds up
/// the control loop.
public final class MonitorServer: Sendable {
  public let source: MonitorSource
  public let metrics: MonitorMetrics
  let logger: Logger
  private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
  private let serving = Mutex<Task<Void, Never>?>(nil)
  private let bound = Mutex<Result<Int, MonitorError>?>(nil)

  public init(source: MonitorSource, metrics: MonitorMetrics, logger: Logger) {
    self.source = source
    self.metrics = metrics
    self.logger = logger
  }

  /// Binds `address` and serves until `stop()`; returns the bound port (useful with port 0).
  public func start(_ address: MonitorAddress) throws(MonitorError) -> Int {
    let router = Router(context: BasicRequestContext.self)
    routes(router)
    let app = Application(
      router: router,
      configuration: .init(address: .hostname(address.host, port: address.port), serverName: "redub-monitor"),
      onServerRunning: { [self] channel in
        bound.withLock { $0 = .success(channel.localAddress?.port ?? address.port) }
      },
      eventLoopGroupProvider: .shared(group),
      logger: logger)
    let task = Task { [self] in
      do {
        try await app.run()
      } catch {
        logger.error("web monitor stopped: \(error)")
        bound.withLock { if $0 == nil { $0 = .failure(.cannotBind("\(address): \(error)")) } }
      }
    }
    serving.withLock { $0 = task }
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
      if let result = bound.withLock({ $0 }) {
        if case .failure = result { stop() }
        return try result.get()
      }
      usleep(2000)
    }
    stop()
    throw MonitorError.cannotBind("\(address): not listening after 30 s")
  }

  /// Stops serving (open requests are cut).
  public func stop() {
    let task = serving.withLock { task in
      defer { task = nil }
      return task
    }
    task?.cancel()
  }

  func routes(_ router: Router<BasicRequestContext>) {
    let source = self.source
    let metrics = self.metrics
    router.get("/") { request, _ -> Response in
      let selected = request.uri.queryParameters.get("job").map { String($0) }
      let page = try await source.read { try $0.page(selected: selected) }
      return MonitorServer.response(page.html(), contentType: "text/html; charset=utf-8")
    }
    router.get("/api/jobs") { _, _ -> Response in
      let list = try await source.read { try $0.jobList() }
      return MonitorServer.json(FarmJSON.text(list))
    }
    router.get("/api/jobs/{id}") { request, context -> Response in
      let jobID = context.parameters.get("id") ?? ""
      let allTasks = ["1", "true", "yes"].contains(request.uri.queryParameters.get("all-tasks").map { String($0) } ?? "")
      do {
        let status = try await source.read { source in
          try source.jobStatus(jobID, allTasks: allTasks, live: source.coordinator.liveState)
        }
        return MonitorServer.json(FarmJSON.text(status))
      } catch FarmError.unknownJob {
        return MonitorServer.json(MonitorServer.errorJSON("unknown job \(jobID)"), status: .notFound)
      }
    }
    router.get("/api/workers") { _, _ -> Response in
      let list = try await source.read { source in try source.workerList(live: source.coordinator.liveState) }
      return MonitorServer.json(FarmJSON.text(list))
    }
    router.get("/api/tasks/{id}/thumbnail.png") { _, context -> Response in
      let text = context.parameters.get("id") ?? ""
      guard let taskID = UInt64(text) else {
        return MonitorServer.response(
          "'\(text)' is not a task id: use a task's taskId from /api/jobs/JOB?all-tasks=1\n", contentType: "text/plain; charset=utf-8",
          status: .notFound)
      }
      guard let report = source.coordinator.liveState.progress[taskID], report.hasThumbnail else {
        return MonitorServer.response(
          "task \(taskID) has no thumbnail now: only running tasks that render frames (an edit's invert, tune, optimize and "
            + "stitch tasks) send one, about once a second; a finished or queued task has none\n",
          contentType: "text/plain; charset=utf-8", status: .notFound)
      }
      var headers = HTTPFields()
      headers[.contentType] = "image/png"
      headers[.cacheControl] = "no-store"
      return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: report.thumbnail.png)))
    }
    router.get("/metrics") { _, _ -> Response in
      let sample = try await source.read { try $0.scrape() }
      metrics.update(sample)
      return MonitorServer.response(metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }
  }

  static func response(_ text: String, contentType: String, status: HTTPResponse.Status = .ok) -> Response {
    var headers = HTTPFields()
    headers[.contentType] = contentType
    headers[.cacheControl] = "no-store"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
  }

  static func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
    response(text, contentType: "application/json", status: status)
  }

  static func errorJSON(_ message: String) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: ["error": message])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
  }
}
