import Foundation
import ZeroMQ

/// CURVE keys on disk.
///
/// A coordinator's key folder holds `coordinator.key` (secret, mode 0600), `coordinator.pub`
/// and `allowed_keys` (one worker or client public key per line; `#` starts a comment). A
/// worker's or client's folder holds `client.key`, `client.pub` and a copy of the coordinator's
/// `coordinator.pub`.
public enum FarmKeys {
  /// Which side a key folder belongs to.
  public enum Role: String, Sendable, CaseIterable {
    case coordinator, client
    var stem: String { self == .coordinator ? "coordinator" : "client" }
  }

  /// A coordinator's keys and where its allowlist lives.
  public struct Server: Sendable {
    public var keys: CurveKeyPair
    public var allowlist: URL
  }

  /// A worker's or client's keys and the coordinator's public key.
  public struct Client: Sendable {
    public var keys: CurveKeyPair
    public var serverPublicKey: String
    public init(keys: CurveKeyPair, serverPublicKey: String) {
      self.keys = keys
      self.serverPublicKey = serverPublicKey
    }
  }

  /// Creates a fresh key pair in `folder` for `role`; refuses to overwrite one.
  @discardableResult
  public static func generate(in folder: URL, role: Role) throws(FarmError) -> CurveKeyPair {
    let secretFile = folder.appendingPathComponent("\(role.stem).key")
    guard !FileManager.default.fileExists(atPath: secretFile.path) else {
      throw FarmError.keys("\(secretFile.path) exists; delete it first to make a new key")
    }
    let keys: CurveKeyPair
    do { keys = try CurveKeyPair.generate() } catch { throw FarmError.keys("cannot generate a key: \(error)") }
    do {
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      FileManager.default.createFile(atPath: secretFile.path, contents: Data((keys.secretKey + "\n").utf8),
                                     attributes: [.posixPermissions: 0o600])
      try Data((keys.publicKey + "\n").utf8).write(to: folder.appendingPathComponent("\(role.stem).pub"))
      if role == .coordinator {
        let allowlist = folder.appendingPathComponent("allowed_keys")
        if !FileManager.default.fileExists(atPath: allowlist.path) {
          try Data("# public keys of the workers and clients this coordinator admits, one per line\n".utf8).write(to: allowlist)
        }
      }
    } catch {
      throw FarmError.keys("cannot write keys to \(folder.path): \(error.localizedDescription)")
    }
    return keys
  }

  /// Loads a coordinator's key folder.
  public static func loadServer(_ folder: URL) throws(FarmError) -> Server {
    let secret = try readKey(folder.appendingPathComponent("coordinator.key"))
    let keys: CurveKeyPair
    do { keys = try CurveKeyPair(secretKey: secret) } catch { throw FarmError.keys("bad coordinator.key: \(error)") }
    return Server(keys: keys, allowlist: folder.appendingPathComponent("allowed_keys"))
  }

  /// Loads a worker's or client's key folder.
  public static func loadClient(_ folder: URL) throws(FarmError) -> Client {
    let secret = try readKey(folder.appendingPathComponent("client.key"))
    let keys: CurveKeyPair
    do { keys = try CurveKeyPair(secretKey: secret) } catch { throw FarmError.keys("bad client.key: \(error)") }
    let server = try readKey(folder.appendingPathComponent("coordinator.pub"))
    return Client(keys: keys, serverPublicKey: server)
  }

  /// The public keys listed in an allowlist file (empty when it does not exist).
  public static func readAllowlist(_ file: URL) -> Set<String> {
    guard let text = try? String(contentsOf: file, encoding: .utf8) else { return [] }
    var keys = Set<String>()
    for line in text.split(whereSeparator: \.isNewline) {
      // The key is the first word; '#' may occur inside a Z85 key, so only a word starting
      // with it is a comment.
      if let key = line.split(whereSeparator: \.isWhitespace).first, !key.hasPrefix("#"), key.utf8.count == 40 {
        keys.insert(String(key))
      }
    }
    return keys
  }

  /// Adds a public key to a coordinator folder's allowlist (a running coordinator picks it up).
  public static func allow(_ publicKey: String, name: String? = nil, in folder: URL) throws(FarmError) {
    try checkPublicKey(publicKey)
    let file = folder.appendingPathComponent("allowed_keys")
    guard !readAllowlist(file).contains(publicKey) else { return }
    var text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    if !text.isEmpty && !text.hasSuffix("\n") { text += "\n" }
    text += publicKey + (name.map { "  # \($0)" } ?? "") + "\n"
    try writeAtomically(text, to: file)
  }

  /// Removes a public key from the allowlist; a running coordinator drops that peer.
  /// Returns false when the key was not listed.
  @discardableResult
  public static func revoke(_ publicKey: String, in folder: URL) throws(FarmError) -> Bool {
    let file = folder.appendingPathComponent("allowed_keys")
    guard let text = try? String(contentsOf: file, encoding: .utf8) else { return false }
    var found = false
    let kept = text.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
      let key = line.split(whereSeparator: \.isWhitespace).first.map(String.init)
      if key == publicKey { found = true; return false }
      return true
    }
    try writeAtomically(kept.joined(separator: "\n"), to: file)
    return found
  }

  static func checkPublicKey(_ key: String) throws(FarmError) {
    let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")
    guard key.count == 40, key.allSatisfy(alphabet.contains) else {
      throw FarmError.keys("'\(key)' is not a CURVE public key (40 Z85 characters, as in client.pub)")
    }
  }

  private static func readKey(_ file: URL) throws(FarmError) -> String {
    guard let text = try? String(contentsOf: file, encoding: .utf8) else {
      throw FarmError.keys("cannot read \(file.path); create keys with `redub keys generate`")
    }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  private static func writeAtomically(_ text: String, to file: URL) throws(FarmError) {
    do { try Data(text.utf8).write(to: file, options: .atomic) } catch {
      throw FarmError.keys("cannot write \(file.path): \(error.localizedDescription)")
    }
  }
}
