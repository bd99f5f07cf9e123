import Files
import Foundation
#if canImport(Glibc)
import Glibc
#endif


// The safetensors format (huggingface/safetensors, README "Format"):
//   8 bytes   N, unsigned little-endian 64-bit: the header's length in bytes
//   N bytes   UTF-8 JSON object {name: {"dtype", "shape", "data_offsets": [begin, end]},
//             "__metadata__": {string: string}} (optional), possibly padded with spaces
//   rest      the data buffer; offsets are relative to its start
// The buffer must be exactly covered by the tensors: no overlaps and no holes, so a file cannot
// hide other content (the reference implementation rejects both).

/// Element types a safetensors file may declare, with their sizes (safetensors `Dtype`).
public enum SafeTensorsDType: String, Sendable, CaseIterable, Codable {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: 1
        case .i16, .u16, .f16, .bf16: 2
        case .i32, .u32, .f32: 4
        case .f64, .i64, .u64: 8
        }
    }
}

/// One tensor's entry in a safetensors header.
public struct SafeTensorInfo: Sendable, Equatable {
    /// The tensor's name.
    public var name: String
    /// Its element type.
    public var dtype: SafeTensorsDType
    /// Its shape.
    public var shape: [Int]
    /// Byte range inside the data buffer (after the header).
    public var dataOffsets: Range<Int>

    /// Number of elements, the product of `shape` (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Why a safetensors file could not be read or written. Every case names the file and, where
/// one is involved, the tensor.
public enum SafeTensorsError: Error, LocalizedError, Equatable {
    case unreadable(path: String, reason: String)
    /// Shorter than the 8-byte header length.
    case truncated(path: String, fileSize: Int)
    /// The declared header length runs past the end of the file (or exceeds the 100 MB limit).
    case headerLengthBeyondFile(path: String, headerLength: UInt64, fileSize: Int)
    case invalidHeader(path: String, reason: String)
    case invalidMetadata(path: String, key: String, reason: String)
    case invalidTensorEntry(path: String, tensor: String, reason: String)
    case unknownDType(path: String, tensor: String, dtype: String)
    /// `end − begin` differs from `product(shape) · size(dtype)`.
    case sizeMismatch(path: String, tensor: String, dtype: SafeTensorsDType, shape: [Int],
                      expectedBytes: Int, actualBytes: Int)
    case offsetsOutOfRange(path: String, tensor: String, begin: Int, end: Int, dataSize: Int)
    case overlappingTensors(path: String, tensor: String, other: String)
    /// Bytes of the data buffer that no tensor covers.
    case unreferencedBytes(path: String, range: Range<Int>)
    case missingTensor(path: String, tensor: String)
    case dtypeMismatch(path: String, tensor: String, expected: SafeTensorsDType, actual: SafeTensorsDType)
    case duplicateTensor(path: String, tensor: String)
    case valueCountMismatch(path: String, tensor: String, shape: [Int], count: Int)
    case writeFailed(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .unreadable(path, reason):
            "\(path): cannot read safetensors file: \(reason)"
        case let .truncated(path, size):
            "\(path): truncated safetensors file (\(size) bytes, the header length alone needs 8)"
        case let .headerLengthBeyondFile(path, length, size):
            "\(path): header length \(length) runs past the end of the \(size)-byte file"
        case let .invalidHeader(path, reason):
            "\(path): invalid safetensors header: \(reason)"
        case let .invalidMetadata(path, key, reason):
            "\(path): invalid __metadata__ entry \"\(key)\": \(reason)"
        case let .invalidTensorEntry(path, tensor, reason):
            "\(path): tensor \"\(tensor)\": \(reason)"
        case let .unknownDType(path, tensor, dtype):
            "\(path): tensor \"\(tensor)\" has unknown dtype \"\(dtype)\""
        case let .sizeMismatch(path, tensor, dtype, shape, expected, actual):
            "\(path): tensor \"\(tensor)\" (\(dtype.rawValue) \(shape)) needs \(expected) bytes, "
                + "its data_offsets span \(actual)"
        case let .offsetsOutOfRange(path, tensor, begin, end, dataSize):
            "\(path): tensor \"\(tensor)\" data_offsets [\(begin), \(end)] lie outside the "
                + "\(dataSize)-byte data buffer"
        case let .overlappingTensors(path, tensor, other):
            "\(path): tensors \"\(other)\" and \"\(tensor)\" overlap in the data buffer"
        case let .unreferencedBytes(path, range):
            "\(path): data bytes \(range.lowerBound)..<\(range.upperBound) belong to no tensor"
        case let .missingTensor(path, tensor):
            "\(path): no tensor named \"\(tensor)\""
        case let .dtypeMismatch(path, tensor, expected, actual):
            "\(path): tensor \"\(tensor)\" is \(actual.rawValue), expected \(expected.rawValue)"
        case let .duplicateTensor(path, tensor):
            "\(path): tensor \"\(tensor)\" is named more than once (a name must be unique)"
        case let .valueCountMismatch(path, tensor, shape, count):
            "\(path): tensor \"\(tensor)\" of shape \(shape) given \(count) values"
        case let .writeFailed(path, reason):
            "\(path): cannot write safetensors file: \(reason)"
        }
    }
}

/// A parsed, fully validated safetensors file. A file on disk is memory-mapped, and the pages of
/// a tensor are handed back to the kernel once its values are copied out, so a model's weights are
/// never resident twice while it is built (peak memory is the built model's, not the file's plus
/// the model's). Foundation's `.mappedIfSafe` reads the whole file into anonymous memory on Linux,
/// hence `.alwaysMapped`.
public struct SafeTensorsFile: Sendable {
    /// The header may be at most this long (the reference implementation's limit).
    public static let maxHeaderLength: UInt64 = 100_000_000

    /// Where the bytes came from (for error messages).
    public let path: String
    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]
    /// Every tensor, by name.
    public let tensors: [String: SafeTensorInfo]
    private let bytes: Data
    private let dataStart: Int
    /// Whether `bytes` is a private file mapping whose pages may be dropped after reading.
    private var mapped = false

    /// Tensor names, sorted.
    public var tensorNames: [String] { tensors.keys.sorted() }

    /// Reads and validates the file at `url`.
    public init(contentsOf url: URL) throws {
        let data: Data
        var mapped = true
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            // An empty file or a special file cannot be mapped; read it (and report its errors).
            do {
                data = try Data(contentsOf: url)
                mapped = false
            } catch {
                throw SafeTensorsError.unreadable(path: url.path, reason: FileErrorText.reason(error))
            }
        }
        try self.init(bytes: data, path: url.path)
        self.mapped = mapped
    }

    /// Validates `bytes` as a safetensors file; `path` only labels errors.
    public init(bytes: Data, path: String = "<memory>") throws {
        let bytes = bytes.startIndex == 0 ? bytes : Data(bytes)
        let fileSize = bytes.count
        guard fileSize >= 8 else { throw SafeTensorsError.truncated(path: path, fileSize: fileSize) }
        let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(fileSize - 8), headerLength <= Self.maxHeaderLength else {
            throw SafeTensorsError.headerLengthBeyondFile(path: path, headerLength: headerLength, fileSize: fileSize)
        }
        let dataStart = 8 + Int(headerLength)
        let header = try Self.parseHeader(bytes.subdata(in: 8..<dataStart), path: path)
        let dataSize = fileSize - dataStart
        try Self.validateLayout(header.tensors, dataSize: dataSize, path: path)
        self.path = path
        self.metadata = header.metadata
        self.tensors = Dictionary(uniqueKeysWithValues: header.tensors.map { ($0.name, $0) })
        self.bytes = bytes
        self.dataStart = dataStart
    }

    /// The entry for `name`, or `missingTensor`.
    public func info(_ name: String) throws -> SafeTensorInfo {
        guard let info = tensors[name] else { throw SafeTensorsError.missingTensor(path: path, tensor: name) }
        return info
    }

    /// The raw little-endian bytes of tensor `name`.
    public func rawBytes(_ name: String) throws -> Data {
        let info = try info(name)
        return bytes.subdata(in: (dataStart + info.dataOffsets.lowerBound)..<(dataStart + info.dataOffsets.upperBound))
    }

    /// The values of an `F64` tensor, row-major.
    public func doubles(_ name: String) throws -> [Double] {
        try values(name, dtype: .f64) { Double(bitPattern: UInt64(littleEndian: $0)) }
    }

    /// The values of an `F32` tensor, row-major.
    public func floats(_ name: String) throws -> [Float] {
        try values(name, dtype: .f32) { Float(bitPattern: UInt32(littleEndian: $0)) }
    }

    /// The values of a floating-point tensor as Float32: F32 as stored, F16 and BF16 widened
    /// exactly, F64 rounded (model weights in any of the dtypes diffusers saves).
    public func floatsConverting(_ name: String) throws -> [Float] {
        let info = try info(name)
        switch info.dtype {
        case .f32: return try floats(name)
        case .f64: return try doubles(name).map { Float($0) }
        case .f16:
            return try values(name, dtype: .f16) { (bits: UInt16) in bits }
                .map { Float(Float16(bitPattern: UInt16(littleEndian: $0))) }
        case .bf16:
            return try values(name, dtype: .bf16) { (bits: UInt16) in bits }
                .map { Float(bitPattern: UInt32(UInt16(littleEndian: $0)) << 16) }
        default:
            throw SafeTensorsError.dtypeMismatch(path: path, tensor: name, expected: .f32, actual: info.dtype)
        }
    }

    /// Decodes a tensor of little-endian `Bits` into `T` (a plain copy on little-endian hosts).
    private func values<Bits: FixedWidthInteger, T: BitwiseCopyable>(
        _ name: String, dtype: SafeTensorsDType, _ convert: (Bits) -> T
    ) throws -> [T] {
        let info = try info(name)
        guard info.dtype == dtype else {
            throw SafeTensorsError.dtypeMismatch(path: path, tensor: name, expected: dtype, actual: info.dtype)
        }
        precondition(MemoryLayout<T>.size == MemoryLayout<Bits>.size && MemoryLayout<Bits>.size == dtype.byteSize)
        let count = info.elementCount
        let start = dataStart + info.dataOffsets.lowerBound
        return bytes.withUnsafeBytes { raw in
            [T](unsafeUninitializedCapacity: count) { out, initialized in
                #if _endian(little)
                UnsafeMutableRawBufferPointer(out).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + count * dtype.byteSize)]))
                #else
                for i in 0..<count {
                    out[i] = convert(raw.loadUnaligned(fromByteOffset: start + i * MemoryLayout<Bits>.size, as: Bits.self))
                }
                #endif
                initialized = count
                if mapped { Self.dropPages(of: raw, start..<(start + count * dtype.byteSize)) }
            }
        }
    }

    /// Hands the whole pages inside `range` of a read-only file mapping back to the kernel
    /// (`madvise(MADV_DONTNEED)`): they leave the resident set and a later read faults them in
    /// again from the file, so the bytes seen never change.
    private static func dropPages(of raw: UnsafeRawBufferPointer, _ range: Range<Int>) {
        #if canImport(Glibc)
        guard let base = raw.baseAddress else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return }
        let address = Int(bitPattern: base)
        let first = (address + range.lowerBound + page - 1) / page * page
        let end = (address + range.upperBound) / page * page
        guard end > first, let start = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(start, end - first, MADV_DONTNEED)
        #endif
    }

    private struct Header {
        var metadata: [String: String] = [:]
        var tensors: [SafeTensorInfo] = []
    }

    private static func parseHeader(_ header: Data, path: String) throws -> Header {
        let raw: RawHeader
        do {
            raw = try JSONDecoder().decode(RawHeader.self, from: header)
        } catch let error as RawHeader.EntryError {
            switch error {
            case let .metadata(key, reason):
                throw SafeTensorsError.invalidMetadata(path: path, key: key, reason: reason)
            case let .tensor(name, reason):
                throw SafeTensorsError.invalidTensorEntry(path: path, tensor: name, reason: reason)
            }
        } catch {
            throw SafeTensorsError.invalidHeader(path: path, reason: "not a JSON object of tensor entries (\(error))")
        }
        // JSONDecoder keeps one entry of a repeated key; the reference implementation refuses them.
        var seen = Set<String>()
        for key in topLevelKeys(header) where !seen.insert(key).inserted {
            throw SafeTensorsError.duplicateTensor(path: path, tensor: key)
        }
        var result = Header(metadata: raw.metadata)
        for (name, entry) in raw.tensors {
            result.tensors.append(try validateEntry(name: name, entry, path: path))
        }
        return result
    }

    /// The keys of a JSON object's top level in order, repeats kept. `json` has already parsed as
    /// an object, so only strings and nesting need tracking.
    static func topLevelKeys(_ json: Data) -> [String] {
        let bytes = [UInt8](json)
        var keys: [String] = []
        var depth = 0, expectingKey = false, i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\""):
                let start = i
                i += 1
                while i < bytes.count, bytes[i] != UInt8(ascii: "\"") { i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1 }
                if depth == 1, expectingKey, i < bytes.count {
                    let literal = Data(bytes[start...i])
                    keys.append((try? JSONSerialization.jsonObject(with: literal, options: .fragmentsAllowed) as? String)
                        ?? String(decoding: literal, as: UTF8.self))
                    expectingKey = false
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = depth == 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                expectingKey = depth == 1
            default:
                break
            }
            i += 1
        }
        return keys
    }

    private static func validateEntry(name: String, _ entry: RawHeader.Entry, path: String) throws -> SafeTensorInfo {
        func invalid(_ reason: String) -> SafeTensorsError {
            .invalidTensorEntry(path: path, tensor: name, reason: reason)
        }
        guard let dtype = SafeTensorsDType(rawValue: entry.dtype) else {
            throw SafeTensorsError.unknownDType(path: path, tensor: name, dtype: entry.dtype)
        }
        let shape = entry.shape
        guard shape.allSatisfy({ $0 >= 0 }) else { throw invalid("shape \(shape) has a negative dimension") }
        guard entry.dataOffsets.count == 2 else {
            throw invalid("\"data_offsets\" must hold two integers, found \(entry.dataOffsets)")
        }
        let begin = entry.dataOffsets[0], end = entry.dataOffsets[1]
        guard begin >= 0, begin <= end else {
            throw invalid("data_offsets [\(begin), \(end)] are not an increasing pair of non-negative integers")
        }
        // product(shape) · size, refusing overflow.
        var byteCount = dtype.byteSize
        for n in shape {
            let (product, overflow) = byteCount.multipliedReportingOverflow(by: n)
            guard !overflow else { throw invalid("shape \(shape) is too large") }
            byteCount = product
        }
        guard byteCount == end - begin else {
            throw SafeTensorsError.sizeMismatch(path: path, tensor: name, dtype: dtype, shape: shape,
                                                expectedBytes: byteCount, actualBytes: end - begin)
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// In-bounds, non-overlapping, and covering the data buffer without holes.
    private static func validateLayout(_ tensors: [SafeTensorInfo], dataSize: Int, path: String) throws {
        let sorted = tensors.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name)
                < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        var covered = 0
        var previous: String?
        for info in sorted {
            let range = info.dataOffsets
            guard range.upperBound <= dataSize else {
                throw SafeTensorsError.offsetsOutOfRange(path: path, tensor: info.name, begin: range.lowerBound,
                                                         end: range.upperBound, dataSize: dataSize)
            }
            if range.lowerBound < covered, let previous {
                throw SafeTensorsError.overlappingTensors(path: path, tensor: info.name, other: previous)
            }
            if range.lowerBound > covered {
                throw SafeTensorsError.unreferencedBytes(path: path, range: covered..<range.lowerBound)
            }
            covered = max(covered, range.upperBound)
            previous = info.name
        }
        if covered < dataSize {
            throw SafeTensorsError.unreferencedBytes(path: path, range: covered..<dataSize)
        }
    }
}

/// Builds a safetensors file: tensors are laid out in the order they are added, the header is
/// padded with spaces to a multiple of 8 bytes so the data buffer stays aligned.
public struct SafeTensorsWriter: Sendable {
    /// The header's `__metadata__`.
    public var metadata: [String: String]
    private var entries: [(info: SafeTensorInfo, bytes: Data)] = []
    private var dataSize = 0

    /// An empty file with `metadata`.
    public init(metadata: [String: String] = [:]) {
        self.metadata = metadata
    }

    /// Adds an `F64` tensor (`values` row-major, `product(shape)` of them).
    public mutating func add(_ name: String, _ values: [Double], shape: [Int]) throws {
        try addRaw(name, dtype: .f64, shape: shape, count: values.count,
                   bytes: Self.littleEndianBytes(values) { $0.bitPattern.littleEndian })
    }

    /// Adds an `F32` tensor (`values` row-major, `product(shape)` of them).
    public mutating func add(_ name: String, _ values: [Float], shape: [Int]) throws {
        try addRaw(name, dtype: .f32, shape: shape, count: values.count,
                   bytes: Self.littleEndianBytes(values) { $0.bitPattern.littleEndian })
    }

    /// The values' little-endian bytes (a plain copy on little-endian hosts).
    private static func littleEndianBytes<T, Bits: FixedWidthInteger>(_ values: [T], _ bits: (T) -> Bits) -> Data {
        #if _endian(little)
        return values.withUnsafeBytes { Data($0) }
        #else
        var data = Data(capacity: values.count * MemoryLayout<Bits>.size)
        for v in values { withUnsafeBytes(of: bits(v)) { data.append(contentsOf: $0) } }
        return data
        #endif
    }

    /// Adds a tensor from its little-endian bytes.
    public mutating func addRaw(_ name: String, dtype: SafeTensorsDType, shape: [Int], bytes: Data) throws {
        guard bytes.count % dtype.byteSize == 0 else {
            throw SafeTensorsError.valueCountMismatch(path: "<writer>", tensor: name, shape: shape,
                                                      count: bytes.count / dtype.byteSize)
        }
        try addRaw(name, dtype: dtype, shape: shape, count: bytes.count / dtype.byteSize, bytes: bytes)
    }

    private mutating func addRaw(_ name: String, dtype: SafeTensorsDType, shape: [Int], count: Int, bytes: Data) throws {
        guard name != "__metadata__", !name.isEmpty else {
            throw SafeTensorsError.invalidTensorEntry(path: "<writer>", tensor: name, reason: "reserved or empty name")
        }
        guard !entries.contains(where: { $0.info.name == name }) else {
            throw SafeTensorsError.duplicateTensor(path: "<writer>", tensor: name)
        }
        guard shape.allSatisfy({ $0 >= 0 }), shape.reduce(1, *) == count else {
            throw SafeTensorsError.valueCountMismatch(path: "<writer>", tensor: name, shape: shape, count: count)
        }
        let info = SafeTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: dataSize..<(dataSize + bytes.count))
        entries.append((info, bytes))
        dataSize += bytes.count
    }

    /// The complete file.
    public func encoded() throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        for (info, _) in entries {
            header[info.name] = [
                "dtype": info.dtype.rawValue,
                "shape": info.shape,
                "data_offsets": [info.dataOffsets.lowerBound, info.dataOffsets.upperBound],
            ] as [String: Any]
        }
        var json: Data
        do {
            json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        } catch {
            throw SafeTensorsError.writeFailed(path: "<writer>", reason: "cannot encode header: \(error.localizedDescription)")
        }
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = Data(capacity: 8 + json.count + dataSize)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, bytes) in entries { out.append(bytes) }
        return out
    }

    /// Writes the file atomically (`AtomicFile`: a temporary file in the same directory,
    /// flushed to disk, then renamed over `url`), so readers see the old file or the complete new one.
    public func write(to url: URL) throws {
        let data = try encoded()
        do {
            try AtomicFile.write(data, to: url)
        } catch FileWriteError.unwritable(_, let reason) {
            throw SafeTensorsError.writeFailed(path: url.path, reason: reason)
        } catch {
            throw SafeTensorsError.writeFailed(path: url.path, reason: FileErrorText.reason(error))
        }
    }
}

/// The header as JSON: every key but `__metadata__` is a tensor entry. Entry errors carry the
/// key so the reader can name the tensor.
private struct RawHeader: Decodable {
    struct Entry: Decodable {
        var dtype: String
        var shape: [Int]
        var dataOffsets: [Int]

        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case dataOffsets = "data_offsets"
        }
    }

    enum EntryError: Error {
        case metadata(key: String, reason: String)
        case tensor(name: String, reason: String)
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var metadata: [String: String] = [:]
    var tensors: [(String, Entry)] = []

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        for key in container.allKeys {
            if key.stringValue == "__metadata__" {
                let map: [String: Key]
                do {
                    let nested = try container.nestedContainer(keyedBy: Key.self, forKey: key)
                    map = Dictionary(uniqueKeysWithValues: nested.allKeys.map { ($0.stringValue, $0) })
                    for (name, k) in map {
                        guard let value = try? nested.decode(String.self, forKey: k) else {
                            throw EntryError.metadata(key: name, reason: "value is not a string")
                        }
                        metadata[name] = value
                    }
                } catch let error as EntryError {
                    throw error
                } catch {
                    throw EntryError.metadata(key: key.stringValue, reason: "not a JSON object of strings")
                }
                continue
            }
            do {
                tensors.append((key.stringValue, try container.decode(Entry.self, forKey: key)))
            } catch {
                throw EntryError.tensor(name: key.stringValue, reason: Self.describe(error))
            }
        }
    }

    /// A short reason for a decoding failure inside one entry.
    private static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case let .keyNotFound(key, _)?:
            "missing \"\(key.stringValue)\""
        case let .typeMismatch(_, context)?, let .valueNotFound(_, context)?, let .dataCorrupted(context)?:
            "bad \"\(context.codingPath.dropFirst().map(\.stringValue).joined(separator: "."))\" "
                + "(dtype: string, shape: [non-negative integers], data_offsets: [begin, end])"
        default:
            "\(error)"
        }
    }
}
