@testable import Farm
import Foundation
import TestSupport
import XCTest

/// GPUs come from the NVIDIA management library when it is there: here a stand-in library with
/// NVML's entry points (compiled by the test) plays the driver's part.
final class GPUInventoryTests: XCTestCase {
  static let fakeNVML = """
    #include <string.h>
    typedef struct { unsigned long long total, free, used; } memory_t;
    static const char *names[] = {"Fake H100 80GB", "Fake A10"};
    static unsigned long long sizes[] = {85899345920ULL, 24146608128ULL};
    static int ready = 0;
    int nvmlInit_v2(void) { ready = 1; return 0; }
    int nvmlShutdown(void) { ready = 0; return 0; }
    int nvmlDeviceGetCount_v2(unsigned int *count) { if (!ready) return 1; *count = 2; return 0; }
    int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **device) {
      if (!ready || i > 1) return 2; *device = (void *)(names + i); return 0;
    }
    int nvmlDeviceGetName(void *device, char *name, unsigned int length) {
      strncpy(name, *(const char **)device, length - 1); name[length - 1] = 0; return 0;
    }
    int nvmlDeviceGetMemoryInfo(void *device, memory_t *memory) {
      int i = (const char **)device - names;
      memory->total = sizes[i]; memory->used = 1; memory->free = sizes[i] - 1; return 0;
    }
    """

  /// Builds the stand-in with the C compiler on the PATH (clang ships with Swift).
  func makeFakeLibrary(in folder: TemporaryFolder) throws -> String {
    let source = folder.url.appendingPathComponent("fake_nvml.c")
    let library = folder.url.appendingPathComponent("libfake-nvml.so")
    try Self.fakeNVML.write(to: source, atomically: true, encoding: .utf8)
    let compile = Process()
    compile.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    compile.arguments = ["clang", "-shared", "-fPIC", "-o", library.path, source.path]
    try compile.run()
    compile.waitUntilExit()
    XCTAssertEqual(compile.terminationStatus, 0, "clang could not build the stand-in NVML")
    return library.path
  }

  func testDevicesComeFromNVMLAndCUDAVisibleDevicesNarrowsThem() throws {
    let folder = TemporaryFolder("nvml")
    let library = try makeFakeLibrary(in: folder)
    let all = GPUInventory.discover(environment: ["REDUB_NVML_LIBRARY": library])
    XCTAssertEqual(all, [.init(index: 0, name: "Fake H100 80GB", memoryBytes: 85_899_345_920),
                         .init(index: 1, name: "Fake A10", memoryBytes: 24_146_608_128)])
    XCTAssertEqual(GPUInventory.discover(environment: ["REDUB_NVML_LIBRARY": library, "CUDA_VISIBLE_DEVICES": "1"]).map(\.name),
                   ["Fake A10"])
    XCTAssertEqual(GPUInventory.discover(environment: ["REDUB_NVML_LIBRARY": library, "CUDA_VISIBLE_DEVICES": ""]), [])
    XCTAssertEqual(GPUInventory.discover(environment: ["REDUB_NVML_LIBRARY": library, "CUDA_VISIBLE_DEVICES": "GPU-5f1c"]).count, 2,
                   "UUIDs are not narrowed")
    // No library: no GPUs, no error.
    XCTAssertEqual(GPUInventory.discover(environment: ["REDUB_NVML_LIBRARY": folder.url.appendingPathComponent("none.so").path]), [])
  }

  /// The worker announces its GPUs and backend; `redub workers` data carries them.
  func testWorkersAnnounceTheirGPUsAndBackend() throws {
    let folder = TemporaryFolder("nvml-worker")
    let library = try makeFakeLibrary(in: folder)
    let farm = try FarmHarness()
    try farm.addWorker("gpu-node", registry: TaskRegistry()) {
      $0.gpus = GPUInventory.discover(environment: ["REDUB_NVML_LIBRARY": library])
      $0.computeBackend = "openblas"
    }
    let client = try farm.client()
    XCTAssertTrue(try eventually(5) { try client.workers().count == 1 })
    let capabilities = try XCTUnwrap(client.workers().first).capabilities
    XCTAssertEqual(capabilities.gpus, 2)
    XCTAssertEqual(capabilities.gpuDevices.map(\.name), ["Fake H100 80GB", "Fake A10"])
    XCTAssertEqual(capabilities.gpuDevices.first?.memoryBytes, 85_899_345_920)
    XCTAssertEqual(capabilities.computeBackend, "openblas")
  }
}
