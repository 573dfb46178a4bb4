import ArgumentParser

@main
struct Redub: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "redub",
    abstract: "Re-dub talking-head video: make a speaker's face follow a new speech track.",
    discussion: """
      redub edits the face in a clip so that lips and expression follow a dubbed audio track, \
      at full resolution. Run `redub demo` to see what this build can do.
      """,
    version: RedubVersion.string,
    subcommands: [DemoCommand.self, EditCommand.self, EvalCommand.self, ToolsCommand.self, TrainCommand.self, ModelsCommand.self, BenchCommand.self, InfoCommand.self,
                  CoordinatorCommand.self, WorkerCommand.self, SubmitCommand.self, StatusCommand.self, WatchCommand.self,
                  WaitCommand.self, ResumeCommand.self, CancelCommand.self, WorkersCommand.self, ReportCommand.self, KeysCommand.self])
}

enum RedubVersion {
  static let string = "0.1.0"
}
