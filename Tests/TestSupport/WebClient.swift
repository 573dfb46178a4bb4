import Foundation
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP answer: status, content type and body.
public struct HTTPReply: Sendable {
  public var status: Int
  public var contentType: String
  public var data: Data
  public var body: String { String(decoding: data, as: UTF8.self) }
}

/// One GET over loopback.
public func httpGet(_ url: String, timeout: Double = 10) throws -> HTTPReply {
  let done = DispatchSemaphore(value: 0)
  let result = Mutex<Result<HTTPReply, any Error>?>(nil)
  let request = URLRequest(url: URL(string: url)!, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
  URLSession.shared.dataTask(with: request) { data, response, error in
    let http = response as? HTTPURLResponse
    result.withLock {
      $0 = error.map { .failure($0) } ?? .success(HTTPReply(
        status: http?.statusCode ?? 0, contentType: http?.value(forHTTPHeaderField: "Content-Type") ?? "", data: data ?? Data()))
    }
    done.signal()
  }.resume()
  done.wait()
  return try result.withLock { $0! }.get()
}

/// Headless Chromium for the web monitor's browser tests.
public enum Chromium {
  public struct Failure: Error, CustomStringConvertible {
    public var description: String
  }

  /// `REDUB_CHROMIUM`, or Debian's `chromium` on the PATH.
  public static var executable: URL? {
    if let path = ProcessInfo.processInfo.environment["REDUB_CHROMIUM"], !path.isEmpty { return URL(fileURLWithPath: path) }
    for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
      let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent("chromium")
      if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
    }
    return nil
  }

  public static let missing = "Chromium is missing: install Debian's `chromium` package (scripts/setup.sh does) or set REDUB_CHROMIUM to its path"

  /// Runs headless Chromium (as root it needs --no-sandbox) with a profile of its own and
  /// returns its standard output.
  public static func run(_ chromium: URL, _ arguments: [String], timeout: Double = 90) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("redub-chromium-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let process = Process()
    process.executableURL = chromium
    process.arguments = [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
      "--user-data-dir=\(folder.appendingPathComponent("profile").path)", "--hide-scrollbars",
    ] + arguments
    let output = folder.appendingPathComponent("stdout")
    let errors = folder.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: output)
    process.standardError = try FileHandle(forWritingTo: errors)
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(50_000) }
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
      throw Failure(description: "chromium \(arguments) did not finish in \(Int(timeout)) s")
    }
    if process.terminationStatus != 0 {
      throw Failure(description: "chromium exited \(process.terminationStatus): \((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
    }
    return (try? String(contentsOf: output, encoding: .utf8)) ?? ""
  }
}
