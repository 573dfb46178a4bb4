// swift-tools-version: 6.1
// redub: audio-driven talking-head re-dubbing on a frame-parallel render farm.
// Module map and dependency rules: see README.md ("Layout"); a module depends only downward.
import PackageDescription

let package = Package(
  name: "redub",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "redub", targets: ["redub"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
    // SHA-256 for content addressing: BoringSSL's code uses SHA-NI where the CPU has it.
    .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    // The coordinator's web monitor (`--http`): HTTP server, Prometheus exposition, and the
    // metrics API the farm records through. No traits: swift-configuration is not needed.
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
  ],
  targets: [
    // C libraries, found through pkg-config (scripts/setup.sh installs them).
    .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                   providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq",
                   providers: [.apt(["libzmq3-dev"])]),
    .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat libavcodec libavutil libswscale libswresample",
                   providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev",
                                     "libswscale-dev", "libswresample-dev"])]),
    // espeak-ng's speech synthesizer with phoneme events: the demo world's speech (DemoWorld only).
    .systemLibrary(name: "CEspeakNG", pkgConfig: "espeak-ng",
                   providers: [.apt(["libespeak-ng-dev"])]),
    // FFmpeg's function-like macros (AVERROR, AV_NOPTS_VALUE, av_err2str) as real symbols.
    .target(name: "CFFmpegShim", dependencies: ["CFFmpeg"]),

    .target(name: "Tensors", dependencies: ["CBLAS"]),
    .target(name: "Networks", dependencies: ["Tensors"]),
    .target(name: "Media", dependencies: ["CFFmpeg", "CFFmpegShim", "Tensors"]),
    .target(name: "Dubbing", dependencies: ["Tensors", "Networks", "Media"]),
    // The demo's synthetic world (speech with known mouth motion, faces drawn from landmarks);
    // only the CLI's demo and the tests use it.
    .target(name: "DemoWorld", dependencies: ["CEspeakNG", "Tensors", "Media", "Networks", "Dubbing"],
            resources: [.copy("TrainedModels")]),
    .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
    .target(name: "Farm", dependencies: [
      "ZeroMQ",
      .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      .product(name: "GRDB", package: "GRDB.swift"),
      .product(name: "Logging", package: "swift-log"),
      .product(name: "Crypto", package: "swift-crypto"),
      .product(name: "CoreMetrics", package: "swift-metrics"),
    ]),
    // The coordinator's read-only web monitor and /metrics (`redub coordinator --http`).
    .target(name: "FarmMonitor", dependencies: [
      "Farm",
      .product(name: "Hummingbird", package: "hummingbird"),
      .product(name: "Prometheus", package: "swift-prometheus"),
      .product(name: "CoreMetrics", package: "swift-metrics"),
      .product(name: "NIOCore", package: "swift-nio"),
      .product(name: "NIOPosix", package: "swift-nio"),
    ]),
    .executableTarget(name: "redub", dependencies: [
      "Tensors", "Networks", "Media", "Dubbing", "DemoWorld", "ZeroMQ", "Farm", "FarmMonitor",
      .product(name: "ArgumentParser", package: "swift-argument-parser"),
    ]),

    // Helpers shared by the test targets (gradient checks, reference comparisons).
    .target(name: "TestSupport", dependencies: ["Tensors"], path: "Tests/TestSupport"),
    .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"], resources: [.copy("Fixtures")]),
    .testTarget(name: "NetworksTests", dependencies: ["Networks", "TestSupport"], resources: [.copy("Fixtures")]),
    .testTarget(name: "MediaTests", dependencies: ["Media"], resources: [.copy("Fixtures")]),
    .testTarget(name: "DubbingTests", dependencies: ["Dubbing", "DemoWorld", "TestSupport"], resources: [.copy("Fixtures")]),
    .testTarget(name: "DemoWorldTests", dependencies: ["DemoWorld", "Media", "Tensors"]),
    .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
    .testTarget(name: "FarmTests", dependencies: ["Farm", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
    .testTarget(name: "RedubCLITests", dependencies: ["Networks", "Tensors", "Media", "Dubbing", "DemoWorld", "TestSupport"]),
  ],
  swiftLanguageModes: [.v6]
)
