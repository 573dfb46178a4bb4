import CZeroMQ

extension ZMQSocket {
  /// Sets an integer option (milliseconds, counts, or 0/1).
  public func set(_ option: ZMQIntOption, _ value: Int) throws(ZMQError) {
    guard let cValue = Int32(exactly: value) else {
      throw ZMQError.invalidArgument("\(option) = \(value) does not fit a C int")
    }
    var storage = cValue
    try check(
      zmq_setsockopt(handle, option.cValue, &storage, MemoryLayout<Int32>.size),
      "zmq_setsockopt(\(option))")
  }

  /// Sets a boolean option such as `.immediate` or `.curveServer`.
  public func set(_ option: ZMQIntOption, _ value: Bool) throws(ZMQError) {
    try set(option, value ? 1 : 0)
  }

  /// Reads an integer option.
  public func int(_ option: ZMQIntOption) throws(ZMQError) -> Int {
    var storage: Int32 = 0
    var size = MemoryLayout<Int32>.size
    try check(zmq_getsockopt(handle, option.cValue, &storage, &size), "zmq_getsockopt(\(option))")
    return Int(storage)
  }

  /// Sets a byte-string option; CURVE keys here are the 32 binary bytes.
  public func set(_ option: ZMQBytesOption, _ value: [UInt8]) throws(ZMQError) {
    let result = value.withUnsafeBytes { buffer in
      zmq_setsockopt(handle, option.cValue, buffer.baseAddress, buffer.count)
    }
    try check(result, "zmq_setsockopt(\(option))")
  }

  /// Sets a text option; CURVE keys here are 40-character Z85 text.
  public func set(_ option: ZMQBytesOption, _ value: String) throws(ZMQError) {
    var bytes = Array(value.utf8)
    if option.isCurveKey {
      guard CurveKeyPair.isZ85Key(value) else {
        throw ZMQError.invalidArgument("\(option) must be 40 Z85 characters, got \(bytes.count) bytes")
      }
      // libzmq tells Z85 from binary by length: 41 bytes including the terminator.
      bytes.append(0)
    }
    try set(option, bytes)
  }

  /// Reads a byte-string option; CURVE keys come back as the 32 binary bytes.
  public func bytes(_ option: ZMQBytesOption) throws(ZMQError) -> [UInt8] {
    try read(option, capacity: option.isCurveKey ? 32 : 1024)
  }

  /// Reads a text option; CURVE keys come back as 40-character Z85 text.
  public func string(_ option: ZMQBytesOption) throws(ZMQError) -> String {
    var bytes = try read(option, capacity: option.isCurveKey ? 41 : 1024)
    // Text options (endpoint, Z85 keys) include their C terminator in the reported size.
    if let end = bytes.firstIndex(of: 0) { bytes.removeSubrange(end...) }
    return String(decoding: bytes, as: UTF8.self)
  }

  private func read(_ option: ZMQBytesOption, capacity: Int) throws(ZMQError) -> [UInt8] {
    var buffer = [UInt8](repeating: 0, count: capacity)
    var size = capacity
    let result = buffer.withUnsafeMutableBytes { raw in
      zmq_getsockopt(handle, option.cValue, raw.baseAddress, &size)
    }
    try check(result, "zmq_getsockopt(\(option))")
    return Array(buffer.prefix(size))
  }

  /// Makes this socket a CURVE server holding `keys`; clients must know `keys.publicKey`.
  /// `zapDomain` names the domain a ZAP handler sees, so it can apply the farm's allowlist.
  public func configureCurveServer(keys: CurveKeyPair, zapDomain: String? = nil) throws(ZMQError) {
    try set(.curveServer, true)
    try set(.curveSecretKey, keys.secretKey)
    if let zapDomain { try set(.zapDomain, zapDomain) }
  }

  /// Makes this socket a CURVE client that talks only to the server owning `serverPublicKey`.
  public func configureCurveClient(serverPublicKey: String, keys: CurveKeyPair) throws(ZMQError) {
    try set(.curveServerKey, serverPublicKey)
    try set(.curvePublicKey, keys.publicKey)
    try set(.curveSecretKey, keys.secretKey)
  }
}
