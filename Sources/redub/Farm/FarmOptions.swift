import ArgumentParser
import Dispatch
import Farm
import Foundation

/// Where a client command finds the coordinator.
struct CoordinatorAddressOptions: ParsableArguments {
  @Option(name: .long, help: ArgumentHelp(
    "The coordinator's control address (default: REDUB_COORDINATOR, else tcp://127.0.0.1:5555).", valueName: "address"))
  var coordinator: String?

  @Option(name: .long, help: ArgumentHelp(
    "Key folder from `redub keys generate --role client` (needed when the coordinator uses keys).", valueName: "dir"))
  var keys: String?

  @Option(name: .long, help: ArgumentHelp("Seconds to wait for each answer.", valueName: "seconds"))
  var timeout: Double = 10

  var address: String {
    coordinator ?? ProcessInfo.processInfo.environment["REDUB_COORDINATOR"] ?? "tcp://127.0.0.1:5555"
  }

  func client() throws -> FarmClient {
    try FarmClient(coordinator: address, keysDirectory: keys.map { URL(fileURLWithPath: $0) },
                   timeout: .milliseconds(Int(timeout * 1000)))
  }
}

/// Runs `handler` on the main queue when any of `signals` arrives (the default action is off).
func onSignals(_ signals: [Int32], _ handler: @escaping @Sendable (Int32) -> Void) -> [DispatchSourceSignal] {
  signals.map { number in
    signal(number, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
    source.setEventHandler { handler(number) }
    source.resume()
    return source
  }
}


func formatTime(_ unix: Double) -> String {
  guard unix > 0 else { return "-" }
  let formatter = DateFormatter()
  formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
  return formatter.string(from: Date(timeIntervalSince1970: unix))
}
