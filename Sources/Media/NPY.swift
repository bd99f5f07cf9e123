import Files
import Foundation

/// A float array in NumPy's `.npy` format (numpy/lib/format.py).
///
/// Reads format versions 1.0, 2.0 and 3.0 holding C-order little-endian float32 (`'<f4'`) or
/// float64 (`'<f8'`, converted to Float with round-to-nearest-even, as `astype(np.float32)`);
/// `'|f4'` and `'|f8'` are read as little-endian too. Writes `'<f4'` C order, version 1.0, byte
/// for byte what `np.save` writes for a float32 array.
public struct NPYArray: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    public static func read(from url: URL) throws -> NPYArray {
        try decode(readContents(of: url), path: url.path)
    }

    /// `read(from:)`, also returning the file's bytes (to check them against a checksum).
    public static func readWithBytes(from url: URL) throws -> (array: NPYArray, bytes: Data) {
        let bytes = try readContents(of: url)
        return (try decode(bytes, path: url.path), bytes)
    }

    /// Writes `npyData()` through `AtomicFile`.
    public func write(to url: URL) throws {
        try AtomicFile.write(npyData(), to: url)
    }

    /// The file's bytes: the header exactly as numpy 2.x writes it (keys sorted, shape padded
    /// for growth, total header length a multiple of 64), then the values as little-endian
    /// float32. Version 2.0 only if the header outgrows version 1.0's 16-bit length, as numpy does.
    public func npyData() -> Data {
        var data = npyHeader(shape: shape, count: values.count, descr: "<f4")
        data.reserveCapacity(data.count + 4 * values.count)
        for value in values { data.appendLittleEndian(value.bitPattern) }
        return data
    }

    /// Parses the bytes of a `.npy` file; `path` only names the file in errors.
    static func decode(_ data: Data, path: String) throws -> NPYArray {
        let (shape, values) = try decodeNPY(data, path: path, Float.self)
        return NPYArray(shape: shape, values: values)
    }
}

/// A float64 array in NumPy's `.npy` format: reads `'<f8'` exactly and `'<f4'` widened; writes
/// `'<f8'` byte for byte as `np.save` does for a float64 array. For statistics that must not lose
/// precision (pytorch-fid's `mu` and `sigma`).
public struct NPYDoubleArray: Equatable, Sendable {
    public var shape: [Int]
    public var values: [Double]

    public init(shape: [Int], values: [Double]) {
        self.shape = shape
        self.values = values
    }

    public static func decode(_ data: Data, path: String) throws -> NPYDoubleArray {
        let (shape, values) = try decodeNPY(data, path: path, Double.self)
        return NPYDoubleArray(shape: shape, values: values)
    }

    public func npyData() -> Data {
        var data = npyHeader(shape: shape, count: values.count, descr: "<f8")
        data.reserveCapacity(data.count + 8 * values.count)
        for value in values { data.appendLittleEndian(value.bitPattern) }
        return data
    }
}

/// The element types `.npy` files are read into: float32 and float64 payloads convert with
/// round-to-nearest-even (as `astype`).
protocol NPYElement {
    init(float32Bits: UInt32)
    init(float64Bits: UInt64)
    init(uint8: UInt8)
}

extension Float: NPYElement {
    init(float32Bits: UInt32) { self.init(bitPattern: float32Bits) }
    init(float64Bits: UInt64) { self.init(Double(bitPattern: float64Bits)) }
    init(uint8: UInt8) { self.init(uint8) }
}

extension Double: NPYElement {
    init(float32Bits: UInt32) { self.init(Float(bitPattern: float32Bits)) }
    init(float64Bits: UInt64) { self.init(bitPattern: float64Bits) }
    init(uint8: UInt8) { self.init(uint8) }
}

/// Image data from a `.npy` (or an `.npz` member): float32/float64 values, or uint8 pixels (dtype
/// `'|u1'`, as guided-diffusion and `np.uint8` image batches hold them) kept exactly as 0…255.
public struct NPYImageArray: Equatable, Sendable {
    public var shape: [Int]
    /// The values; for uint8 files the pixel values 0…255 as Float (exact).
    public var values: [Float]
    /// Whether the file held uint8 pixels.
    public var isUInt8: Bool

    public init(shape: [Int], values: [Float], isUInt8: Bool) {
        self.shape = shape
        self.values = values
        self.isUInt8 = isUInt8
    }

    public static func read(from url: URL) throws -> NPYImageArray {
        try decode(readContents(of: url), path: url.path)
    }

    /// Parses the bytes of a `.npy` holding float32, float64 or uint8; `path` only names the file in errors.
    public static func decode(_ data: Data, path: String) throws -> NPYImageArray {
        let (shape, values, descr) = try decodeNPYWithType(data, path: path, Float.self, allowUInt8: true)
        return NPYImageArray(shape: shape, values: values, isUInt8: descr.hasSuffix("u1"))
    }
}

/// A uint8 array in `.npy` form (`'|u1'`), for image batches in guided-diffusion's layout.
public struct NPYUInt8Array: Equatable, Sendable {
    public var shape: [Int]
    public var values: [UInt8]

    public init(shape: [Int], values: [UInt8]) {
        self.shape = shape
        self.values = values
    }

    /// The bytes `np.save` writes for a C-order uint8 array.
    public func npyData() -> Data {
        var data = npyHeader(shape: shape, count: values.count, descr: "|u1")
        data.append(contentsOf: values)
        return data
    }
}

/// The magic, version and header numpy 2.x writes for a C-order array of `descr` (keys sorted,
/// shape padded for growth, total header length a multiple of 64; version 2.0 only if the header
/// outgrows version 1.0's 16-bit length).
func npyHeader(shape: [Int], count: Int, descr: String) -> Data {
    precondition(shape.allSatisfy { $0 >= 0 }, "NPY: negative dimension in \(shape)")
    precondition(shape.reduce(1, *) == count,
                 "NPY: shape \(shape) holds \(shape.reduce(1, *)) values, but there are \(count)")

    let shapeText = shape.count == 1
        ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shapeText), }"
    if let first = shape.first {
        header += String(repeating: " ", count: max(0, 21 - String(first).count))
    }
    var prefixLength = 10
    let headerLength = header.utf8.count + 1  // + "\n"
    var padding = 64 - (prefixLength + headerLength) % 64
    if headerLength + padding > Int(UInt16.max) {
        prefixLength = 12
        padding = 64 - (prefixLength + headerLength) % 64
    }

    var data = Data([0x93] + Array("NUMPY".utf8) + [prefixLength == 10 ? 1 : 2, 0])
    if prefixLength == 10 {
        data.appendLittleEndian(UInt16(headerLength + padding))
    } else {
        data.appendLittleEndian(UInt32(headerLength + padding))
    }
    data.append(contentsOf: Array(header.utf8))
    data.append(contentsOf: [UInt8](repeating: 0x20, count: padding) + [0x0A])
    return data
}

/// Parses the bytes of a `.npy` file holding float32 or float64; `path` only names the file in errors.
func decodeNPY<T: NPYElement>(_ data: Data, path: String, _: T.Type) throws -> (shape: [Int], values: [T]) {
    let (shape, values, _) = try decodeNPYWithType(data, path: path, T.self, allowUInt8: false)
    return (shape, values)
}

/// `decodeNPY`, also reading uint8 (`'|u1'`) when `allowUInt8`; returns the file's dtype too.
func decodeNPYWithType<T: NPYElement>(_ data: Data, path: String, _: T.Type,
                                      allowUInt8: Bool) throws -> (shape: [Int], values: [T], descr: String) {
    let read = allowUInt8 ? "'<f4', '<f8', '|u1'" : "'<f4', '<f8'"
    func malformed(_ expected: String, _ found: String) -> MediaError {
        .malformed(path: path, format: "NPY", expected: expected, found: found)
    }
    return try data.withUnsafeBytes { raw in
        let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
        guard raw.count >= 10, raw.prefix(6).elementsEqual(magic) else {
            throw malformed("magic \\x93NUMPY and a version",
                            raw.isEmpty ? "an empty file" : "\(hex(raw.prefix(8))) (\(raw.count) bytes)")
        }
        let (major, minor) = (raw[6], raw[7])
        let headerStart: Int, headerLength: Int
        switch (major, minor) {
        case (1, 0):
            headerStart = 10
            headerLength = Int(UInt16(raw[8]) | UInt16(raw[9]) << 8)
        case (2, 0), (3, 0):
            guard raw.count >= 12 else {
                throw MediaError.truncated(path: path, format: "NPY", expectedBytes: 12, foundBytes: raw.count)
            }
            headerStart = 12
            headerLength = (0..<4).reduce(0) { $0 | Int(raw[8 + $1]) << (8 * $1) }
        default:
            throw MediaError.unsupported(
                path: path, format: "NPY", feature: "format version \(major).\(minor) (read: 1.0, 2.0, 3.0)")
        }
        let payloadStart = headerStart + headerLength
        guard raw.count >= payloadStart else {
            throw MediaError.truncated(path: path, format: "NPY", expectedBytes: payloadStart, foundBytes: raw.count)
        }

        let headerBytes = Array(raw[headerStart..<payloadStart])
        let headerText = String(decoding: headerBytes, as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let header: NPYHeader
        do {
            header = try NPYHeader(parsing: headerBytes)
        } catch let error as PythonLiteralError {
            throw malformed("a header dict {'descr': ..., 'fortran_order': ..., 'shape': (...)}",
                            "\(headerText) (\(error.message))")
        }

        guard !header.fortranOrder else {
            throw MediaError.unsupported(
                path: path, format: "NPY", feature: "fortran_order True (only C-order arrays are read)")
        }
        let itemSize: Int
        switch header.descr {
        case "<f4", "|f4": itemSize = 4
        case "<f8", "|f8": itemSize = 8
        case "|u1" where allowUInt8, "<u1" where allowUInt8: itemSize = 1
        case ">f4", ">f8":
            throw MediaError.unsupported(
                path: path, format: "NPY", feature: "big-endian dtype '\(header.descr)' (read: \(read))")
        default:
            throw MediaError.unsupported(
                path: path, format: "NPY", feature: "dtype '\(header.descr)' (read: \(read))")
        }

        var count = 1
        for dimension in header.shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw malformed("a shape whose size fits in memory", "shape \(header.shape)") }
            count = product
        }
        let (payloadLength, overflow) = count.multipliedReportingOverflow(by: itemSize)
        let (fileLength, overflow2) = payloadStart.addingReportingOverflow(payloadLength)
        guard !overflow, !overflow2 else {
            throw malformed("a shape whose size fits in memory", "shape \(header.shape)")
        }
        guard raw.count >= fileLength else {
            throw MediaError.truncated(path: path, format: "NPY", expectedBytes: fileLength, foundBytes: raw.count)
        }
        guard raw.count == fileLength else {
            throw malformed("\(payloadLength) data bytes for shape \(header.shape) '\(header.descr)'",
                            "\(raw.count - payloadStart) bytes")
        }

        let values = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if itemSize == 1 {
                for i in 0..<count { buffer[i] = T(uint8: raw[payloadStart + i]) }
            } else if itemSize == 4 {
                for i in 0..<count {
                    let bits = raw.loadUnaligned(fromByteOffset: payloadStart + 4 * i, as: UInt32.self)
                    buffer[i] = T(float32Bits: UInt32(littleEndian: bits))
                }
            } else {
                for i in 0..<count {
                    let bits = raw.loadUnaligned(fromByteOffset: payloadStart + 8 * i, as: UInt64.self)
                    buffer[i] = T(float64Bits: UInt64(littleEndian: bits))
                }
            }
            initialized = count
        }
        return (header.shape, values, header.descr)
    }
}

/// The three keys numpy requires in a header, and no others.
private struct NPYHeader {
    var descr: String
    var fortranOrder: Bool
    var shape: [Int]

    init(parsing bytes: [UInt8]) throws(PythonLiteralError) {
        var parser = PythonLiteralParser(bytes: bytes)
        let value = try parser.parseDocument()
        guard case .dict(let entries) = value else { throw PythonLiteralError("the header is not a dict") }
        let keys = entries.map(\.key).sorted()
        guard keys == ["descr", "fortran_order", "shape"] else {
            throw PythonLiteralError("keys \(keys), numpy requires exactly descr, fortran_order, shape")
        }
        let dict = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })

        switch dict["descr"] {
        case .string(let descr)?: self.descr = descr
        case .sequence?: throw PythonLiteralError("a structured dtype (descr is a list)")
        default: throw PythonLiteralError("descr is not a string")
        }
        guard case .bool(let fortranOrder)? = dict["fortran_order"] else {
            throw PythonLiteralError("fortran_order is not True or False")
        }
        self.fortranOrder = fortranOrder
        guard case .sequence(let items)? = dict["shape"] else { throw PythonLiteralError("shape is not a tuple") }
        self.shape = try items.map { item throws(PythonLiteralError) in
            guard case .int(let n) = item, n >= 0 else {
                throw PythonLiteralError("shape holds something other than non-negative ints")
            }
            return n
        }
    }
}

struct PythonLiteralError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// The subset of Python literal syntax that `.npy` headers use: dicts, tuples and lists,
/// quoted strings, non-negative ints (an old `L` suffix allowed), True, False and None.
struct PythonLiteralParser {
    indirect enum Value {
        case string(String), int(Int), bool(Bool), none
        case sequence([Value])
        case dict([(key: String, value: Value)])
    }

    private let bytes: [UInt8]
    private var position = 0
    private var depth = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// One value, surrounded by nothing but whitespace.
    mutating func parseDocument() throws(PythonLiteralError) -> Value {
        let value = try parseValue()
        skipWhitespace()
        guard position == bytes.count else { throw PythonLiteralError("unexpected text after the value") }
        return value
    }

    private mutating func parseValue() throws(PythonLiteralError) -> Value {
        skipWhitespace()
        guard let byte = peek() else { throw PythonLiteralError("unexpected end of header") }
        guard depth < 16 else { throw PythonLiteralError("nested too deeply") }
        depth += 1
        defer { depth -= 1 }
        switch byte {
        case UInt8(ascii: "{"):
            position += 1
            var entries: [(key: String, value: Value)] = []
            while true {
                skipWhitespace()
                if consume("}") { return .dict(entries) }
                guard case .string(let key) = try parseValue() else {
                    throw PythonLiteralError("a dict key is not a string")
                }
                skipWhitespace()
                guard consume(":") else { throw PythonLiteralError("missing ':' after key '\(key)'") }
                entries.append((key, try parseValue()))
                skipWhitespace()
                if consume("}") { return .dict(entries) }
                guard consume(",") else { throw PythonLiteralError("missing ',' or '}' in dict") }
            }
        case UInt8(ascii: "("), UInt8(ascii: "["):
            let close = byte == UInt8(ascii: "(") ? ")" : "]"
            position += 1
            var items: [Value] = []
            while true {
                skipWhitespace()
                if consume(close) { return .sequence(items) }
                items.append(try parseValue())
                skipWhitespace()
                if consume(close) { return .sequence(items) }
                guard consume(",") else { throw PythonLiteralError("missing ',' or '\(close)'") }
            }
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            position += 1
            let start = position
            while let next = peek(), next != byte { position += next == UInt8(ascii: "\\") ? 2 : 1 }
            guard position < bytes.count else { throw PythonLiteralError("unterminated string") }
            let string = String(decoding: bytes[start..<position], as: UTF8.self)
            position += 1  // the closing quote
            return .string(string)
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            var n = 0
            while let digit = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) {
                let (times10, o1) = n.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int(digit - UInt8(ascii: "0")))
                guard !o1, !o2 else { throw PythonLiteralError("integer too large") }
                n = sum
                position += 1
            }
            _ = consume("L")
            return .int(n)
        default:
            if consume("True") { return .bool(true) }
            if consume("False") { return .bool(false) }
            if consume("None") { return .none }
            throw PythonLiteralError("unexpected character '\(String(decoding: [byte], as: UTF8.self))'")
        }
    }

    private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x09 || byte == 0x0D { position += 1 }
    }

    private mutating func consume(_ token: String) -> Bool {
        let tokenBytes = Array(token.utf8)
        guard bytes.count - position >= tokenBytes.count,
              bytes[position..<position + tokenBytes.count].elementsEqual(tokenBytes) else { return false }
        position += tokenBytes.count
        return true
    }
}

extension Data {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
