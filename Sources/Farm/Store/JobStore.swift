import Foundation
import GRDB

/// The coordinator's durable state: jobs, tasks, leases (one row per attempt), workers,
/// per-job worker failures (blocklists) and an event log, in SQLite (WAL) through GRDB.
///
/// Every method is one transaction, committed before it returns, so whatever the coordinator
/// acknowledges survives a crash. Used from the coordinator's thread (the queue serializes
/// anyway).
public final class JobStore: Sendable {
  let queue: DatabaseQueue
  /// Opened with `init(readOnlyAt:)`: a second connection for readers beside the coordinator.
  let readOnly: Bool

  /// Opens or creates the database at `path`.
  public init(path: URL) throws(FarmError) {
    do {
      var configuration = Configuration()
      configuration.journalMode = .wal
      configuration.prepareDatabase { db in
        // WAL + NORMAL: a commit survives a killed process (the coordinator's failure model);
        // only a power cut may lose the last commits.
        try db.execute(sql: "PRAGMA synchronous = NORMAL")
      }
      queue = try DatabaseQueue(path: path.path, configuration: configuration)
      try JobStore.migrator.migrate(queue)
    } catch {
      throw FarmError.database("cannot open \(path.path): \(error)")
    }
    readOnly = false
  }

  /// A read-only connection to the database of a running coordinator (the web monitor's).
  /// In WAL mode its reads never block the coordinator's writes, nor wait for them: each read
  /// is one transaction on the last committed state. Writing through it fails.
  public init(readOnlyAt path: URL) throws(FarmError) {
    do {
      var configuration = Configuration()
      configuration.readonly = true
      configuration.busyMode = .timeout(2)
      configuration.label = "redub.monitor"
      queue = try DatabaseQueue(path: path.path, configuration: configuration)
    } catch {
      throw FarmError.database("cannot open \(path.path) for reading: \(error)")
    }
    readOnly = true
  }

  static var migrator: DatabaseMigrator {
    var migrator = DatabaseMigrator()
    migrator.registerMigration("v1") { db in
      try db.execute(sql: """
        CREATE TABLE jobs (
          id TEXT PRIMARY KEY NOT NULL,
          seq INTEGER NOT NULL,
          name TEXT NOT NULL,
          priority INTEGER NOT NULL,
          state TEXT NOT NULL,
          created REAL NOT NULL,
          finished REAL,
          error TEXT,
          output_dir TEXT NOT NULL,
          tasks_total INTEGER NOT NULL,
          tasks_done INTEGER NOT NULL DEFAULT 0,
          exported INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE job_inputs (
          job_id TEXT NOT NULL REFERENCES jobs(id),
          name TEXT NOT NULL,
          sha256 TEXT NOT NULL,
          size INTEGER NOT NULL,
          PRIMARY KEY (job_id, name)
        );
        CREATE TABLE tasks (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          job_id TEXT NOT NULL REFERENCES jobs(id),
          key TEXT NOT NULL,
          stage TEXT NOT NULL,
          kind TEXT NOT NULL,
          spec BLOB NOT NULL,
          state TEXT NOT NULL,
          pending_deps INTEGER NOT NULL,
          epoch INTEGER NOT NULL DEFAULT 0,
          failures INTEGER NOT NULL DEFAULT 0,
          lost INTEGER NOT NULL DEFAULT 0,
          worker TEXT,
          error TEXT,
          error_worker TEXT,
          finished REAL,
          seconds REAL,
          job_priority INTEGER NOT NULL,
          job_seq INTEGER NOT NULL,
          UNIQUE (job_id, key)
        );
        CREATE INDEX tasks_ready ON tasks (state, job_priority DESC, job_seq, id);
        CREATE INDEX tasks_job ON tasks (job_id, state);
        CREATE TABLE task_deps (
          task_id INTEGER NOT NULL,
          depends_on INTEGER NOT NULL,
          PRIMARY KEY (task_id, depends_on)
        );
        CREATE INDEX task_deps_reverse ON task_deps (depends_on);
        CREATE TABLE task_outputs (
          task_id INTEGER NOT NULL,
          name TEXT NOT NULL,
          sha256 TEXT NOT NULL,
          size INTEGER NOT NULL,
          PRIMARY KEY (task_id, name)
        );
        CREATE TABLE task_metrics (
          task_id INTEGER NOT NULL,
          name TEXT NOT NULL,
          value REAL NOT NULL,
          PRIMARY KEY (task_id, name)
        );
        CREATE TABLE leases (
          task_id INTEGER NOT NULL,
          epoch INTEGER NOT NULL,
          worker TEXT NOT NULL,
          granted REAL NOT NULL,
          ended REAL,
          outcome TEXT,
          detail TEXT,
          PRIMARY KEY (task_id, epoch)
        );
        CREATE TABLE workers (
          id TEXT PRIMARY KEY NOT NULL,
          name TEXT NOT NULL,
          public_key TEXT NOT NULL DEFAULT '',
          capabilities BLOB NOT NULL,
          first_seen REAL NOT NULL,
          last_seen REAL NOT NULL
        );
        CREATE TABLE worker_failures (
          job_id TEXT NOT NULL,
          worker_id TEXT NOT NULL,
          failures INTEGER NOT NULL,
          PRIMARY KEY (job_id, worker_id)
        );
        CREATE TABLE events (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          time REAL NOT NULL,
          kind TEXT NOT NULL,
          job_id TEXT,
          task_id INTEGER,
          worker TEXT,
          message TEXT NOT NULL
        );
        """)
    }
    // Outputs up to `Wire.inlineLimit` live here instead of as files: stored in the same
    // transaction as the result that names them, without a file per tiny result. `data` may
    // be NULL: SQLite binds an empty blob as NULL; it reads back as no bytes.
    migrator.registerMigration("v2-small-blobs") { db in
      try db.execute(sql: """
        CREATE TABLE small_blobs (
          sha256 TEXT PRIMARY KEY NOT NULL,
          data BLOB
        ) WITHOUT ROWID;
        """)
    }
    // Declared exports (`TaskSpec.exports`): which output of which task a finished job writes
    // where, one row per path, so a path is unique within its job.
    migrator.registerMigration("v3-task-exports") { db in
      try db.execute(sql: """
        CREATE TABLE task_exports (
          job_id TEXT NOT NULL,
          path TEXT NOT NULL,
          task_id INTEGER NOT NULL,
          output TEXT NOT NULL,
          PRIMARY KEY (job_id, path)
        ) WITHOUT ROWID;
        """)
    }
    // `TaskSpec.prefer_gpu`, as a column the lease query orders by.
    // The lease query orders ready tasks by priority, then GPU preference (descending for
    // workers with GPUs, ascending for those without), then age: one index per direction lets
    // it read the first few rows in order instead of sorting every ready task per lease.
    migrator.registerMigration("v4-prefer-gpu") { db in
      try db.execute(sql: """
        ALTER TABLE tasks ADD COLUMN prefer_gpu INTEGER NOT NULL DEFAULT 0;
        DROP INDEX tasks_ready;
        CREATE INDEX tasks_ready_cpu ON tasks (state, job_priority DESC, prefer_gpu ASC, job_seq, id);
        CREATE INDEX tasks_ready_gpu ON tasks (state, job_priority DESC, prefer_gpu DESC, job_seq, id);
        """)
    }
    return migrator
  }

  /// Runs `body` atomically, mapping errors to `FarmError`: on its own, one committed
  /// transaction; inside `batch`, a savepoint of the batch's transaction, so a failing state
  /// change rolls back alone and the others still commit together.
  func write<T>(_ body: (Database) throws -> T) throws(FarmError) -> T {
    do {
      return try queue.unsafeReentrantWrite { db in
        var result: T?
        try db.inSavepoint {
          result = try body(db)
          return .commit
        }
        return result!
      }
    } catch let error as FarmError {
      throw error
    } catch {
      throw FarmError.database("\(error)")
    }
  }

  /// Reads; inside `batch` it sees the batch's uncommitted changes (one connection).
  func read<T>(_ body: (Database) throws -> T) throws(FarmError) -> T {
    do {
      if readOnly {
        // Several statements, one snapshot: a reader beside the writer needs its own transaction.
        return try queue.inDatabase { db in
          var result: T?
          try db.inTransaction(.deferred) {
            result = try body(db)
            return .commit
          }
          return result!
        }
      }
      return try queue.unsafeReentrantRead(body)
    } catch let error as FarmError {
      throw error
    } catch {
      throw FarmError.database("\(error)")
    }
  }

  /// Group commit: every store call `body` makes (on this thread) joins one transaction,
  /// committed when `body` returns. One commit then covers many state changes, and a caller
  /// that acknowledges only after `batch` returns still acknowledges nothing uncommitted.
  /// Throws when the commit fails (nothing in the batch is then stored).
  public func batch<T>(_ body: () throws -> T) throws(FarmError) -> T {
    do {
      return try queue.writeWithoutTransaction { db in
        var result: T?
        try db.inTransaction(.immediate) {
          result = try body()
          return .commit
        }
        return result!
      }
    } catch let error as FarmError {
      throw error
    } catch {
      throw FarmError.database("\(error)")
    }
  }

  static func now() -> Double { Date().timeIntervalSince1970 }

  static func logEvent(
    _ db: Database, _ kind: String, job: String? = nil, task: Int64? = nil, worker: String? = nil, _ message: String
  ) throws {
    try db.cachedStatement(sql: "INSERT INTO events (time, kind, job_id, task_id, worker, message) VALUES (?, ?, ?, ?, ?, ?)")
      .execute(arguments: [now(), kind, job, task, worker, message])
  }

  /// Appends an event to the log.
  public func logEvent(_ kind: String, job: String? = nil, task: Int64? = nil, worker: String? = nil, _ message: String) {
    _ = try? write { db in try JobStore.logEvent(db, kind, job: job, task: task, worker: worker, message) }
  }

  /// Events of one kind (or all), oldest first.
  public func events(kind: String? = nil, job: String? = nil) throws(FarmError) -> [FarmEvent] {
    try read { db in
      var sql = "SELECT * FROM events WHERE 1"
      var arguments: StatementArguments = []
      if let kind { sql += " AND kind = ?"; arguments += [kind] }
      if let job { sql += " AND job_id = ?"; arguments += [job] }
      return try Row.fetchAll(db, sql: sql + " ORDER BY id", arguments: arguments).map { row in
        FarmEvent(time: row["time"], kind: row["kind"], jobID: row["job_id"], taskID: row["task_id"],
                  worker: row["worker"], message: row["message"])
      }
    }
  }
}

/// One line of the coordinator's event log.
public struct FarmEvent: Sendable, Equatable {
  public var time: Double
  public var kind: String
  public var jobID: String?
  public var taskID: Int64?
  public var worker: String?
  public var message: String
}
