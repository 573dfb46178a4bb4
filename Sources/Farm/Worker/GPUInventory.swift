import Foundation

/// The machine's NVIDIA GPUs, read from the NVIDIA management library (NVML, part of the
/// driver) when it is installed; nothing otherwise. The library is opened at run time, so
/// redub neither links nor needs it. NVML lists every GPU of the machine: it does not apply
/// CUDA_VISIBLE_DEVICES (Slurm and Kubernetes set that to the GPUs a job was given), so the
/// worker keeps only the listed indices when it is set.
public enum GPUInventory {
  public struct Device: Equatable, Sendable {
    public var index: Int
    public var name: String
    public var memoryBytes: UInt64
  }

  /// `REDUB_NVML_LIBRARY` names another library file (tests, unusual driver installs).
  public static func discover(environment: [String: String] = ProcessInfo.processInfo.environment) -> [Device] {
    let library = environment["REDUB_NVML_LIBRARY"] ?? "libnvidia-ml.so.1"
    guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else { return [] }
    defer { dlclose(handle) }
    typealias Status = Int32  // nvmlReturn_t; 0 is NVML_SUCCESS
    typealias Initialize = @convention(c) () -> Status
    typealias Count = @convention(c) (UnsafeMutablePointer<UInt32>) -> Status
    typealias Handle = @convention(c) (UInt32, UnsafeMutablePointer<OpaquePointer?>) -> Status
    typealias Name = @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>, UInt32) -> Status
    // nvmlMemory_t: total, free, used (unsigned long long each).
    typealias Memory = @convention(c) (OpaquePointer?, UnsafeMutablePointer<UInt64>) -> Status
    func symbol<T>(_ name: String, _ type: T.Type) -> T? {
      dlsym(handle, name).map { unsafeBitCast($0, to: type) }
    }
    guard let initialize = symbol("nvmlInit_v2", Initialize.self), let shutdown = symbol("nvmlShutdown", Initialize.self),
          let count = symbol("nvmlDeviceGetCount_v2", Count.self), let device = symbol("nvmlDeviceGetHandleByIndex_v2", Handle.self),
          let name = symbol("nvmlDeviceGetName", Name.self), let memory = symbol("nvmlDeviceGetMemoryInfo", Memory.self),
          initialize() == 0 else { return [] }
    defer { _ = shutdown() }
    var total: UInt32 = 0
    guard count(&total) == 0 else { return [] }
    var devices: [Device] = []
    for index in 0..<total {
      var handle: OpaquePointer?
      guard device(index, &handle) == 0 else { continue }
      var text = [CChar](repeating: 0, count: 96)
      let named = name(handle, &text, UInt32(text.count)) == 0
      var info = [UInt64](repeating: 0, count: 3)
      let measured = memory(handle, &info) == 0
      devices.append(Device(index: Int(index), name: named ? String(cString: text) : "NVIDIA GPU", memoryBytes: measured ? info[0] : 0))
    }
    return visible(devices, environment["CUDA_VISIBLE_DEVICES"])
  }

  /// The devices CUDA_VISIBLE_DEVICES (a comma-separated list of indices) leaves; all when it
  /// is unset, none when it is empty. Entries that are not indices (UUIDs) keep every device.
  static func visible(_ devices: [Device], _ setting: String?) -> [Device] {
    guard let setting else { return devices }
    let entries = setting.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    if entries.isEmpty { return [] }
    let indices = entries.compactMap(Int.init)
    guard indices.count == entries.count else { return devices }
    return indices.compactMap { i in devices.first { $0.index == i } }
  }
}
