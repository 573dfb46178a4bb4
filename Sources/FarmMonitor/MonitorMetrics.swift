import CoreMetrics
import Farm
import Foundation
import Prometheus
import Synchronization

/// The coordinator's Prometheus metrics (`/metrics`, text exposition format 0.0.4).
///
/// Two sources: what the control and bulk threads record as it happens, through swift-metrics
/// into `factory` (`redub_task_seconds`, `redub_task_retries_total`, `redub_blob_bytes_total`),
/// and gauges set from the database and the live state at each scrape (tasks and jobs by
/// state, workers, heartbeat age, blocklisted workers).
public final class MonitorMetrics: Sendable {
  public let registry: PrometheusCollectorRegistry
  /// Give it to `CoordinatorConfiguration.metricsFactory`.
  public let factory: PrometheusMetricsFactory
  private let heartbeatGauges = Mutex<[String: Prometheus.Gauge]>([:])

  /// Buckets of `redub_task_seconds`: tasks run from a fraction of a second (diagnostics,
  /// small chunks) to an hour (a window at 1024² on a CPU).
  public static let taskSecondsBuckets: [Duration] = [
    .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(10), .seconds(30),
    .seconds(60), .seconds(120), .seconds(300), .seconds(600), .seconds(1800), .seconds(3600),
  ]

  public static let taskStates = ["queued", "running", "done", "failed", "cancelled"]
  public static let jobStates = ["running", "done", "failed", "cancelled"]
  public static let workerStates = ["idle", "busy", "draining"]

  public init() {
    registry = PrometheusCollectorRegistry()
    var factory = PrometheusMetricsFactory(registry: registry)
    factory.durationHistogramBuckets = ["redub_task_seconds": MonitorMetrics.taskSecondsBuckets]
    self.factory = factory
    // Counters start at zero, so a scrape shows them before the first event.
    for direction in ["to_workers", "from_workers"] {
      CoreMetrics.Counter(label: "redub_blob_bytes_total", dimensions: [("direction", direction)], factory: factory).increment(by: 0)
    }
    for reason in ["failed", "expired", "handed-back"] {
      CoreMetrics.Counter(label: "redub_task_retries_total", dimensions: [("reason", reason)], factory: factory).increment(by: 0)
    }
  }

  private func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Prometheus.Gauge {
    registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
  }

  /// Sets the gauges from one sample.
  func update(_ sample: MonitorSample) {
    var tasks: [String: Int] = [:]
    for (state, count) in sample.tasks { tasks[MonitorPage.displayState(state), default: 0] += count }
    for state in MonitorMetrics.taskStates {
      gauge("redub_tasks", "Tasks of all jobs by state (queued: waiting for dependencies or a worker).", [("state", state)])
        .set(Double(tasks[state] ?? 0))
    }
    for state in MonitorMetrics.jobStates {
      gauge("redub_jobs", "Jobs by state.", [("state", state)]).set(Double(sample.jobs[state] ?? 0))
    }
    var workers: [String: Int] = [:]
    for worker in sample.live.workers { workers[worker.state, default: 0] += 1 }
    for state in MonitorMetrics.workerStates {
      gauge("redub_workers", "Connected workers by state.", [("state", state)]).set(Double(workers[state] ?? 0))
    }
    gauge("redub_blocklisted_workers", "Workers blocklisted for at least one running job.").set(Double(sample.blocklistedWorkers))
    // One series per connected worker; a worker that left loses its series.
    heartbeatGauges.withLock { gauges in
      var seen = Set<String>()
      for worker in sample.live.workers {
        seen.insert(worker.workerID)
        let gauge = gauges[worker.workerID] ?? self.gauge(
          "redub_worker_heartbeat_age_seconds", "Seconds since the coordinator last heard from each connected worker.",
          [("worker", worker.workerID), ("name", worker.name)])
        gauges[worker.workerID] = gauge
        gauge.set(max(0, sample.now - worker.lastHeartbeatUnix))
      }
      for (id, gauge) in gauges where !seen.contains(id) {
        registry.unregisterGauge(gauge)
        gauges[id] = nil
      }
    }
  }

  /// The exposition text.
  func render() -> String {
    registry.emitToString()
  }
}
