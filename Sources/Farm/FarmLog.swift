import Logging

/// Loggers for the farm's processes.
public enum FarmLog {
  /// A logger writing to standard error at `level` ("trace" … "critical").
  public static func standardError(label: String, level: String = "info") -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
  }
}
