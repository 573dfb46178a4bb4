import Foundation

/// Errors reading or writing safetensors files. Each names the file part at fault.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
  case unreadable(path: String, reason: String)
  case unwritable(path: String, reason: String)
  case truncated(expected: Int, actual: Int)
  case headerTooLarge(Int)
  case malformedHeader(String)
  case unsupportedDType(tensor: String, dtype: String)
  case badOffsets(tensor: String, reason: String)
  case missingTensor(String)
  case notFloat(tensor: String, dtype: String)
  case notInteger(tensor: String, dtype: String)

  public var description: String {
    switch self {
    case let .unreadable(path, reason): return "cannot read safetensors file \(path): \(reason)"
    case let .unwritable(path, reason): return "cannot write safetensors file \(path): \(reason)"
    case let .truncated(expected, actual):
      return "safetensors file is truncated: needs \(expected) bytes, has \(actual) (re-copy or re-convert it)"
    case let .headerTooLarge(n): return "safetensors header claims \(n) bytes, more than the file holds; the file is corrupt"
    case let .malformedHeader(why): return "safetensors header is malformed: \(why)"
    case let .unsupportedDType(t, d): return "tensor '\(t)' has dtype \(d), which redub does not read (F32, F16, BF16, I64, I32, U8)"
    case let .badOffsets(t, why): return "tensor '\(t)' has bad data offsets: \(why)"
    case let .missingTensor(t): return "no tensor named '\(t)' in the safetensors file"
    case let .notFloat(t, d): return "tensor '\(t)' is \(d), not a floating-point tensor"
    case let .notInteger(t, d): return "tensor '\(t)' is \(d), not an integer tensor"
    }
  }
}

/// Element types of the safetensors format that redub reads.
public enum SafeTensorsDType: String, Sendable {
  case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32", u8 = "U8"

  var byteSize: Int {
    switch self {
    case .f32, .i32: return 4
    case .f16, .bf16: return 2
    case .i64: return 8
    case .u8: return 1
    }
  }

  var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }
}

/// A safetensors file, memory-mapped; tensors are converted to float32 as they are read.
public struct SafeTensorsFile: Sendable {
  public struct Entry: Sendable {
    public let dtype: SafeTensorsDType
    public let shape: Shape
    let range: Range<Int>  // byte range within the data section
  }

  public let metadata: [String: String]
  public let entries: [String: Entry]
  private let data: Data
  private let dataStart: Int

  public init(contentsOf url: URL) throws {
    let data: Data
    do {
      data = try Data(contentsOf: url, options: .alwaysMapped)
    } catch {
      throw SafeTensorsError.unreadable(path: url.path, reason: error.localizedDescription)
    }
    try self.init(data: data)
  }

  public init(data: Data) throws {
    guard data.count >= 8 else { throw SafeTensorsError.truncated(expected: 8, actual: data.count) }
    let headerLength = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> UInt64 in
      UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
    }
    guard headerLength <= UInt64(data.count - 8) else {
      throw SafeTensorsError.headerTooLarge(Int(clamping: headerLength))
    }
    let headerEnd = 8 + Int(headerLength)
    let json: Any
    do {
      json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd))
    } catch {
      throw SafeTensorsError.malformedHeader("not valid JSON")
    }
    guard let header = json as? [String: Any] else {
      throw SafeTensorsError.malformedHeader("the header is not a JSON object")
    }
    var metadata: [String: String] = [:]
    var entries: [String: Entry] = [:]
    let dataLength = data.count - headerEnd
    for (name, value) in header {
      if name == "__metadata__" {
        guard let m = value as? [String: Any] else { throw SafeTensorsError.malformedHeader("__metadata__ is not an object") }
        for (k, v) in m {
          guard let s = v as? String else { throw SafeTensorsError.malformedHeader("metadata '\(k)' is not a string") }
          metadata[k] = s
        }
        continue
      }
      guard let info = value as? [String: Any],
        let dtypeName = info["dtype"] as? String,
        let shapeValues = info["shape"] as? [Any],
        let offsetValues = info["data_offsets"] as? [Any]
      else { throw SafeTensorsError.malformedHeader("entry '\(name)' lacks dtype, shape or data_offsets") }
      guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
        throw SafeTensorsError.unsupportedDType(tensor: name, dtype: dtypeName)
      }
      let dims = shapeValues.compactMap { ($0 as? NSNumber)?.intValue }
      let offsets = offsetValues.compactMap { ($0 as? NSNumber)?.intValue }
      guard dims.count == shapeValues.count, dims.allSatisfy({ $0 >= 0 }) else {
        throw SafeTensorsError.malformedHeader("entry '\(name)' has an invalid shape")
      }
      guard offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
        throw SafeTensorsError.badOffsets(tensor: name, reason: "expected [begin, end] with begin ≤ end")
      }
      guard offsets[1] <= dataLength else {
        throw SafeTensorsError.truncated(expected: headerEnd + offsets[1], actual: data.count)
      }
      let shape = Shape(dims)
      guard offsets[1] - offsets[0] == shape.count * dtype.byteSize else {
        throw SafeTensorsError.badOffsets(
          tensor: name, reason: "\(offsets[1] - offsets[0]) bytes for \(shape.count) elements of \(dtype.rawValue)")
      }
      entries[name] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
    }
    self.metadata = metadata
    self.entries = entries
    self.data = data
    self.dataStart = headerEnd
  }

  /// Tensor names, sorted.
  public var names: [String] { entries.keys.sorted() }

  public func contains(_ name: String) -> Bool { entries[name] != nil }

  /// A tensor's shape, without reading its data.
  public func shape(of name: String) throws -> [Int] {
    guard let e = entries[name] else { throw SafeTensorsError.missingTensor(name) }
    return e.shape.dims
  }

  /// A floating-point tensor as float32 (F16 and BF16 are widened).
  public func tensor(_ name: String) throws -> Tensor {
    guard let e = entries[name] else { throw SafeTensorsError.missingTensor(name) }
    guard e.dtype.isFloat else { throw SafeTensorsError.notFloat(tensor: name, dtype: e.dtype.rawValue) }
    var out = Tensor(zeros: e.shape)
    let start = dataStart + e.range.lowerBound
    data.withUnsafeBytes { raw in
      let src = UnsafeRawBufferPointer(rebasing: raw[start..<(dataStart + e.range.upperBound)])
      out.withUnsafeMutableBufferPointer { dst in
        switch e.dtype {
        case .f32:
          #if _endian(little)
          // The format is little-endian like the host: one copy (an element loop costs seconds
          // per 100M parameters in a debug build).
          if let base = dst.baseAddress, let from = src.baseAddress {
            UnsafeMutableRawPointer(base).copyMemory(from: from, byteCount: 4 * dst.count)
          }
          #else
          for i in 0..<dst.count { dst[i] = Float(bitPattern: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).littleEndian) }
          #endif
        case .bf16:
          for i in 0..<dst.count {
            dst[i] = Float(bitPattern: UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) << 16)
          }
        case .f16:
          for i in 0..<dst.count { dst[i] = halfToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).littleEndian) }
        default: break
        }
      }
    }
    return out
  }

  /// An integer tensor (I64, I32, U8) as Int values, with its shape.
  public func integers(_ name: String) throws -> (values: [Int], shape: Shape) {
    guard let e = entries[name] else { throw SafeTensorsError.missingTensor(name) }
    guard !e.dtype.isFloat else { throw SafeTensorsError.notInteger(tensor: name, dtype: e.dtype.rawValue) }
    let start = dataStart + e.range.lowerBound
    let values: [Int] = data.withUnsafeBytes { raw in
      (0..<e.shape.count).map { i in
        switch e.dtype {
        case .i64: return Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: start + 8 * i, as: Int64.self)))
        case .i32: return Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * i, as: Int32.self)))
        default: return Int(raw[start + i])
        }
      }
    }
    return (values, e.shape)
  }
}

/// IEEE half → single, including subnormals, infinities and NaN.
func halfToFloat(_ h: UInt16) -> Float {
  let sign = UInt32(h & 0x8000) << 16
  let exponent = Int((h >> 10) & 0x1F)
  let mantissa = UInt32(h & 0x3FF)
  if exponent == 0 {
    // Zero or subnormal: mantissa · 2^-24.
    let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
    return sign != 0 ? -magnitude : magnitude
  }
  if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
  return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
}

public enum SafeTensors {
  /// The file bytes for `tensors` (F32) and `metadata`, tensors in name order.
  public static func serialize(_ tensors: [String: Tensor], metadata: [String: String] = [:]) -> Data {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var offset = 0
    let names = tensors.keys.sorted()
    for name in names {
      let t = tensors[name]!
      header[name] = ["dtype": "F32", "shape": t.shape.dims, "data_offsets": [offset, offset + 4 * t.count]] as [String: Any]
      offset += 4 * t.count
    }
    var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
    // Pad the header with spaces so the data section starts 8-byte aligned, as the format recommends.
    while (json.count % 8) != 0 { json.append(0x20) }
    var out = Data(capacity: 8 + json.count + offset)
    var length = UInt64(json.count).littleEndian
    withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
    out.append(json)
    for name in names {
      // Every platform redub runs on is little-endian, like the format.
      tensors[name]!.withUnsafeBufferPointer { out.append($0) }
    }
    return out
  }

  /// Writes atomically (temporary file, then rename), so a crash never leaves half a file.
  public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
    do {
      try serialize(tensors, metadata: metadata).write(to: url, options: .atomic)
    } catch {
      throw SafeTensorsError.unwritable(path: url.path, reason: error.localizedDescription)
    }
  }
}
