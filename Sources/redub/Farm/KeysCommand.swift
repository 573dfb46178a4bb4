import ArgumentParser
import Farm
import Foundation

struct KeysCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "keys",
    abstract: "Manage the farm's CURVE keys and the coordinator's allowlist.",
    discussion: """
      On the head node: `redub keys generate --role coordinator --dir keys/`. On each worker or \
      client: `redub keys generate --role client --dir wkeys/`, copy the coordinator's \
      coordinator.pub into wkeys/, and on the head node `redub keys allow $(cat wkeys/client.pub)`. \
      A running coordinator re-reads its allowlist; `redub keys revoke KEY` also drops that peer.
      """,
    subcommands: [Generate.self, Allow.self, Revoke.self, List.self])

  struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create a key pair in a folder.")
    @Option(help: ArgumentHelp("Key folder.", valueName: "dir")) var dir = "keys"
    @Option(help: "coordinator or client.") var role = "client"
    func validate() throws {
      if FarmKeys.Role(rawValue: role) == nil { throw ValidationError("--role is coordinator or client.") }
    }
    func run() throws {
      let keys = try FarmKeys.generate(in: URL(fileURLWithPath: dir), role: FarmKeys.Role(rawValue: role)!)
      print(keys.publicKey)
    }
  }

  struct Allow: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Add a worker's or client's public key to the allowlist.")
    @Argument(help: "Public key (40 Z85 characters, the content of client.pub).") var publicKey: String
    @Option(help: ArgumentHelp("The coordinator's key folder.", valueName: "dir")) var dir = "keys"
    @Option(help: "A note kept beside the key.") var name: String?
    func run() throws {
      try FarmKeys.allow(publicKey, name: name, in: URL(fileURLWithPath: dir))
      print("allowed \(publicKey)")
    }
  }

  struct Revoke: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a key from the allowlist; a running coordinator drops that peer.")
    @Argument(help: "Public key.") var publicKey: String
    @Option(help: ArgumentHelp("The coordinator's key folder.", valueName: "dir")) var dir = "keys"
    func run() throws {
      if try FarmKeys.revoke(publicKey, in: URL(fileURLWithPath: dir)) {
        print("revoked \(publicKey)")
      } else {
        print("\(publicKey) was not in the allowlist")
        throw ExitCode(1)
      }
    }
  }

  struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the allowlist.")
    @Option(help: ArgumentHelp("The coordinator's key folder.", valueName: "dir")) var dir = "keys"
    func run() throws {
      for key in FarmKeys.readAllowlist(URL(fileURLWithPath: dir).appendingPathComponent("allowed_keys")).sorted() { print(key) }
    }
  }
}
