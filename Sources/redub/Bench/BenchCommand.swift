import ArgumentParser

struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Measure the speed of redub's kernels.",
    discussion: "Each benchmark prints a table; --json prints one JSON object per line instead.",
    subcommands: [GEMMBenchmark.self, ConvBenchmark.self, GeneratorBenchmark.self, MediaBenchmark.self, FarmBenchmark.self, NetworksBenchmark.self, EditBenchmark.self,
                  AudioToLandmarksBenchmark.self, DemoWorldBenchmark.self])
}

/// Options shared by the benchmarks.
struct BenchOptions: ParsableArguments {
  @Flag(help: "Print one JSON object per measurement instead of a table.")
  var json = false

  @Option(help: ArgumentHelp("Minimum seconds spent timing each measurement.", valueName: "seconds"))
  var minTime: Double = 0.5

  func validate() throws {
    if minTime <= 0 { throw ValidationError("--min-time must be positive.") }
  }
}
