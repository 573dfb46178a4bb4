import CZeroMQ

/// A libzmq version number.
public struct ZMQVersion: Comparable, Sendable, CustomStringConvertible {
  public let major: Int
  public let minor: Int
  public let patch: Int

  public init(major: Int, minor: Int, patch: Int) {
    self.major = major
    self.minor = minor
    self.patch = patch
  }

  /// The libzmq loaded at run time, which may differ from the headers built against.
  public static var linked: ZMQVersion {
    var major: Int32 = 0
    var minor: Int32 = 0
    var patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return ZMQVersion(major: Int(major), minor: Int(minor), patch: Int(patch))
  }

  public var description: String { "\(major).\(minor).\(patch)" }

  public static func < (lhs: ZMQVersion, rhs: ZMQVersion) -> Bool {
    (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
  }
}
