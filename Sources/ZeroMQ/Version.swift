/// The linked libzmq version, read as `ZeroMQ.version`.
///
/// A module-level value rather than a type named after the module, because a type called
/// `ZeroMQ` would shadow the module name and break qualified lookups such as `ZeroMQ.ZMQSocket`.
public var version: ZMQVersion { ZMQVersion.linked }
