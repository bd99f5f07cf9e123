import Foundation
import Testing
@testable import Media

@Suite struct NPYTests {
    /// The values of tools/make_media_fixtures.py `arange`, in the same Float32 arithmetic.
    static let arange: [Float] = (0..<24).map { (Float($0) - 11.5) / 7 }

    @Test func readsFloat32Version1() throws {
        let array = try NPYArray.read(from: mediaFixture("npy/f4_v1.npy"))
        #expect(array.shape == [2, 3, 4])
        #expect(array.values == Self.arange)
    }

    @Test func readsFloat32Version3() throws {
        let array = try NPYArray.read(from: mediaFixture("npy/f4_v3.npy"))
        #expect(array.shape == [4, 6])
        #expect(array.values == Self.arange)
    }

    @Test func readsFloat64Version2AsFloat() throws {
        let array = try NPYArray.read(from: mediaFixture("npy/f8_v2.npy"))
        let doubles: [Double] = [-1.0, -0.25, 0.0, 0.1, 1e-3, 2.5, 1e10, -3.0e-8, 123456.789, 1.0 / 3.0]
        #expect(array.shape == [2, 5])
        #expect(array.values == doubles.map { Float($0) })
    }

    @Test func readsSpecialValuesBitExactly() throws {
        let array = try NPYArray.read(from: mediaFixture("npy/specials_1d.npy"))
        let expected: [Float] = [0, -0.0, Float(bitPattern: 1), 3.4028235e38, -.infinity, .infinity]
        #expect(array.shape == [6])
        #expect(array.values.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    @Test func readsScalarAndEmpty() throws {
        #expect(try NPYArray.read(from: mediaFixture("npy/scalar.npy")) == NPYArray(shape: [], values: [2.5]))
        #expect(try NPYArray.read(from: mediaFixture("npy/empty.npy")) == NPYArray(shape: [0, 3], values: []))
    }

    /// Byte-identical to np.save, so numpy reads what we write.
    @Test(arguments: ["f4_v1", "specials_1d", "scalar", "empty"])
    func writerReproducesNumpyBytes(name: String) throws {
        let url = mediaFixture("npy/\(name).npy")
        #expect(try NPYArray.read(from: url).npyData() == Data(contentsOf: url))
    }

    @Test(arguments: [[Int](), [1], [7], [3, 1, 5], [100_000, 0], [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]])
    func roundTripsThroughAFile(shape: [Int]) throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let count = shape.reduce(1, *)
        let array = NPYArray(shape: shape, values: (0..<count).map { Float($0) * 0.37 - 1 })
        let url = directory.appendingPathComponent("a.npy")

        try array.write(to: url)
        #expect(try NPYArray.read(from: url) == array)
        let data = try Data(contentsOf: url)
        let headerLength = Int(data[8]) | Int(data[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        #expect(data[10 + headerLength - 1] == 0x0A)
    }

    @Test(arguments: [
        ("fortran", "fortran_order True"),
        ("big_endian", "big-endian dtype '>f4'"),
        ("int32", "dtype '<i4'"),
    ])
    func refusesUnsupportedArrays(name: String, feature: String) throws {
        let url = mediaFixture("npy/\(name).npy")
        let error = #expect(throws: MediaError.self) { try NPYArray.read(from: url) }
        #expect(error?.kind == "unsupported")
        #expect(error?.message.contains(url.path) == true)
        #expect(error?.message.contains(feature) == true, "\(error?.message ?? "")")
    }

    /// Damaged copies of f4_v1.npy (224 bytes: 128 of header, 96 of data).
    @Test(arguments: [
        ("truncated data", "truncated", "announces 224 bytes, the file holds 220"),
        ("extra data", "malformed", "expected 96 data bytes"),
        ("bad magic", "malformed", "magic"),
        ("version 4", "unsupported", "format version 4.0"),
        ("wrong key", "malformed", "keys [\"descr\", \"fortran_order\", \"shapx\"]"),
        ("bad shape", "malformed", "unexpected character '-'"),
        ("header past end", "truncated", "announces 65545 bytes"),
        ("empty file", "malformed", "found an empty file"),
        ("shape product overflows", "malformed", "a shape whose size fits in memory"),
        ("huge shape, tiny file", "truncated", "announces 4398046511232 bytes"),
        ("integer beyond Int", "malformed", "integer too large"),
    ])
    func reportsDamagedFiles(damage: String, kind: String, detail: String) throws {
        var bytes = [UInt8](try Data(contentsOf: mediaFixture("npy/f4_v1.npy")))
        func replace(_ old: String, _ new: String) {
            let header = String(decoding: bytes[10..<128], as: UTF8.self).replacingOccurrences(of: old, with: new)
            bytes.replaceSubrange(10..<128, with: Array(header.utf8))
        }
        switch damage {
        case "truncated data": bytes.removeLast(4)
        case "extra data": bytes += [0, 0, 0, 0]
        case "bad magic": bytes[1] = UInt8(ascii: "M")
        case "version 4": bytes[6] = 4
        case "wrong key": replace("'shape'", "'shapx'")
        case "bad shape": replace("(2, 3, 4)", "(2, -3, 4)")
        case "header past end": bytes[8] = 0xFF; bytes[9] = 0xFF
        case "empty file": bytes = []
        case "shape product overflows": replace("(2, 3, 4)", "(4294967296, 4294967296)")
        case "huge shape, tiny file": replace("(2, 3, 4)", "(1099511627776,)")
        case "integer beyond Int": replace("(2, 3, 4)", "(99999999999999999999,)")
        default: Issue.record("unknown damage \(damage)")
        }
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("damaged.npy")
        try Data(bytes).write(to: url)

        let error = #expect(throws: MediaError.self) { try NPYArray.read(from: url) }
        #expect(error?.kind == kind, "\(error?.message ?? "")")
        #expect(error?.message.contains(url.path) == true)
        #expect(error?.message.contains(detail) == true, "\(error?.message ?? "")")
    }

    @Test func missingFileIsNamed() {
        let url = URL(fileURLWithPath: "/nonexistent/skipstep/a.npy")
        let error = #expect(throws: MediaError.self) { try NPYArray.read(from: url) }
        #expect(error == .unreadable(path: url.path, reason: "no such file"))
    }
}

@Suite struct PythonLiteralParserTests {
    @Test(arguments: [
        "{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 4L), }",
        "{\"shape\": (), \"fortran_order\": False, \"descr\": \"<f8\"}",
        "  {'descr':'<f4','fortran_order':False,'shape':[2,]}\n",
    ])
    func parsesHeaderVariants(header: String) throws {
        var parser = PythonLiteralParser(bytes: Array(header.utf8))
        guard case .dict(let entries) = try parser.parseDocument() else {
            Issue.record("not a dict")
            return
        }
        #expect(Set(entries.map(\.key)) == ["descr", "fortran_order", "shape"])
    }

    @Test(arguments: ["{'a': 1", "{'a' 1}", "{'a': 1} x", "'open", String(repeating: "(", count: 100_000), "{'a': 99999999999999999999999}"])
    func rejectsMalformedLiterals(text: String) {
        var parser = PythonLiteralParser(bytes: Array(text.utf8))
        #expect(throws: PythonLiteralError.self) { try parser.parseDocument() }
    }
}
