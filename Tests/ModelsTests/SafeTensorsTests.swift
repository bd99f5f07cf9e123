import Foundation
import Models
import Testing
import TestSupport

/// A fresh temporary directory, removed by the caller's `defer`.
func makeTemporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-models-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A safetensors file from a literal header and data bytes (length prefix computed unless given).
func safetensorsBytes(header: String, data: [UInt8], headerLength: UInt64? = nil) -> Data {
    let json = Data(header.utf8)
    var out = Data()
    withUnsafeBytes(of: (headerLength ?? UInt64(json.count)).littleEndian) { out.append(contentsOf: $0) }
    out.append(json)
    out.append(contentsOf: data)
    return out
}

@Suite("safetensors")
struct SafeTensorsTests {
    @Test("Reads the reference writer's file (safetensors 0.8.0, tools/make_gmm_goldens.py)")
    func readsReferenceFile() throws {
        let file = try SafeTensorsFile(contentsOf: Fixtures.url("models/reference.safetensors"))
        #expect(file.metadata == ["format": "test", "note": "made by tools/make_gmm_goldens.py"])
        #expect(file.tensorNames == ["f32", "f64", "i64"])
        #expect(try file.info("f64").shape == [2, 3])
        #expect(try file.doubles("f64") == [0, 0.5, 1, 1.5, 2, 2.5])
        #expect(try file.floats("f32") == [0, -1.25, -2.5, -3.75])
        let i64 = try file.info("i64")
        #expect(i64.dtype == .i64 && i64.shape == [] && i64.elementCount == 1)
        #expect(try file.rawBytes("i64") == Data([7, 0, 0, 0, 0, 0, 0, 0]))
    }

    @Test("Round trip through a file: values, shapes, metadata, 8-byte aligned header")
    func roundTrip() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var writer = SafeTensorsWriter(metadata: ["format": "x", "quote\"key": "välue\n"])
        let doubles: [Double] = [1, -2.5, .pi, 1e-300, -0.0, .greatestFiniteMagnitude]
        let floats: [Float] = [0.1, -7, .leastNonzeroMagnitude]
        try writer.add("a.weight", doubles, shape: [2, 3])
        try writer.add("b", floats, shape: [3])
        try writer.add("empty", [Double](), shape: [0, 4])
        let url = directory.appendingPathComponent("t.safetensors")
        try writer.write(to: url)

        let raw = try Data(contentsOf: url)
        let headerLength = raw.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        #expect(headerLength % 8 == 0)
        let file = try SafeTensorsFile(contentsOf: url)
        #expect(file.metadata == ["format": "x", "quote\"key": "välue\n"])
        #expect(try file.doubles("a.weight").map(\.bitPattern) == doubles.map(\.bitPattern))
        #expect(try file.floats("b") == floats)
        #expect(try file.info("a.weight").shape == [2, 3])
        #expect(try file.doubles("empty") == [])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["t.safetensors"],
                "no temporary file is left behind")
    }

    @Test("Writer errors: duplicate names, value count vs shape, reserved name, missing directory")
    func writerErrors() throws {
        var writer = SafeTensorsWriter()
        try writer.add("a", [1.0, 2], shape: [2])
        #expect(throws: SafeTensorsError.duplicateTensor(path: "<writer>", tensor: "a")) {
            try writer.add("a", [1.0], shape: [1])
        }
        #expect(throws: SafeTensorsError.valueCountMismatch(path: "<writer>", tensor: "b", shape: [2, 2], count: 3)) {
            try writer.add("b", [Float](repeating: 0, count: 3), shape: [2, 2])
        }
        #expect(throws: SafeTensorsError.self) { try writer.add("__metadata__", [1.0], shape: [1]) }
        let missing = URL(fileURLWithPath: "/nonexistent-skipstep-dir/x.safetensors")
        let error = #expect(throws: SafeTensorsError.self) { try writer.write(to: missing) }
        #expect(error?.localizedDescription.contains("/nonexistent-skipstep-dir/x.safetensors") == true)
    }

    static let goodHeader = #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    /// Each malformed file and the error it must produce.
    static let badFiles: [(String, Data, SafeTensorsError)] = [
        ("truncated length", Data([1, 0, 0]), .truncated(path: "bad", fileSize: 3)),
        ("header length beyond file",
         safetensorsBytes(header: goodHeader, data: [UInt8](repeating: 0, count: 8), headerLength: 1000),
         .headerLengthBeyondFile(path: "bad", headerLength: 1000, fileSize: 8 + goodHeader.utf8.count + 8)),
        ("data truncated",
         safetensorsBytes(header: goodHeader, data: [0, 0, 0, 0]),
         .offsetsOutOfRange(path: "bad", tensor: "t", begin: 0, end: 8, dataSize: 4)),
        ("offsets out of range",
         safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data: [UInt8](repeating: 0, count: 8)),
         .offsetsOutOfRange(path: "bad", tensor: "t", begin: 8, end: 16, dataSize: 8)),
        ("overlapping",
         safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                          data: [UInt8](repeating: 0, count: 8)),
         .overlappingTensors(path: "bad", tensor: "b", other: "a")),
        ("unknown dtype",
         safetensorsBytes(header: #"{"t":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 16)),
         .unknownDType(path: "bad", tensor: "t", dtype: "F128")),
        ("size mismatch",
         safetensorsBytes(header: #"{"t":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
         .sizeMismatch(path: "bad", tensor: "t", dtype: .f64, shape: [2], expectedBytes: 16, actualBytes: 8)),
        ("hole between tensors",
         safetensorsBytes(header: #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}"#,
                          data: [UInt8](repeating: 0, count: 6)),
         .unreferencedBytes(path: "bad", range: 2..<4)),
        ("trailing bytes",
         safetensorsBytes(header: goodHeader, data: [UInt8](repeating: 0, count: 12)),
         .unreferencedBytes(path: "bad", range: 8..<12)),
        ("offsets decreasing",
         safetensorsBytes(header: #"{"t":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#, data: [UInt8](repeating: 0, count: 4)),
         .invalidTensorEntry(path: "bad", tensor: "t",
                             reason: "data_offsets [4, 0] are not an increasing pair of non-negative integers")),
        ("negative dimension",
         safetensorsBytes(header: #"{"t":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}"#, data: []),
         .invalidTensorEntry(path: "bad", tensor: "t", reason: "shape [-1] has a negative dimension")),
        ("duplicate tensor name (Python's safetensors refuses it; JSONDecoder keeps one)",
         safetensorsBytes(header: #"{"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"t":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}"#,
                          data: [UInt8](repeating: 0, count: 4)),
         .duplicateTensor(path: "bad", tensor: "t")),
        ("duplicate tensor name spelled with an escape",
         safetensorsBytes(header: #"{"ab":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"ab":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#,
                          data: [0]),
         .duplicateTensor(path: "bad", tensor: "ab")),
        ("shape product overflows",
         safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#, data: []),
         .invalidTensorEntry(path: "bad", tensor: "t", reason: "shape [4294967296, 4294967296] is too large")),
        ("non-string metadata",
         safetensorsBytes(header: #"{"__metadata__":{"k":1}}"#, data: []),
         .invalidMetadata(path: "bad", key: "k", reason: "value is not a string")),
    ]

    @Test("Malformed files fail with the precise error", arguments: badFiles.indices)
    func badFile(index: Int) throws {
        let (name, bytes, expected) = Self.badFiles[index]
        #expect(throws: expected, "\(name)") { try SafeTensorsFile(bytes: bytes, path: "bad") }
    }

    @Test("Malformed headers name the problem")
    func malformedHeaders() throws {
        let notJSON = safetensorsBytes(header: "{not json", data: [])
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(bytes: notJSON, path: "bad") }
        let missingShape = safetensorsBytes(header: #"{"t":{"dtype":"F32","data_offsets":[0,0]}}"#, data: [])
        let error = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(bytes: missingShape, path: "bad") }
        #expect(error == .invalidTensorEntry(path: "bad", tensor: "t", reason: "missing \"shape\""))
        let fractional = safetensorsBytes(header: #"{"t":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}}"#, data: [0])
        let fractionalError = #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(bytes: fractional, path: "bad") }
        if case .invalidTensorEntry(_, "t", _)? = fractionalError {} else {
            Issue.record("expected invalidTensorEntry for tensor t, got \(String(describing: fractionalError))")
        }
        let hugeOffset = safetensorsBytes(header: #"{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1e30]}}"#, data: [0])
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(bytes: hugeOffset, path: "bad") }
        // Repeated keys inside a tensor entry or the metadata are not tensor names.
        let nested = safetensorsBytes(header: #"{"__metadata__":{"k":"v"},"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [0])
        #expect(try SafeTensorsFile(bytes: nested, path: "ok").tensorNames == ["t"])
        let array = safetensorsBytes(header: "[]", data: [])
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(bytes: array, path: "bad") }
        // An empty header object is a valid file with no tensors.
        let empty = try SafeTensorsFile(bytes: safetensorsBytes(header: "{}  ", data: []), path: "ok")
        #expect(empty.tensors.isEmpty && empty.metadata.isEmpty)
    }

    @Test("Accessors check names and dtypes")
    func accessors() throws {
        var writer = SafeTensorsWriter()
        try writer.add("f", [Float(1)], shape: [1])
        let file = try SafeTensorsFile(bytes: try writer.encoded(), path: "mem")
        #expect(throws: SafeTensorsError.missingTensor(path: "mem", tensor: "g")) { try file.floats("g") }
        #expect(throws: SafeTensorsError.dtypeMismatch(path: "mem", tensor: "f", expected: .f64, actual: .f32)) {
            try file.doubles("f")
        }
        let error = SafeTensorsError.offsetsOutOfRange(path: "/x/m.safetensors", tensor: "w", begin: 0, end: 8, dataSize: 4)
        #expect(error.localizedDescription.contains("/x/m.safetensors") && error.localizedDescription.contains("\"w\""))
    }
}
