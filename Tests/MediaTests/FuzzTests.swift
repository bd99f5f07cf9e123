import CZlib
import Files
import Foundation
@testable import Media
import Testing
import TestSupport

/// Mutation fuzzing of the media parsers (issue 22): thousands of seeded mutations of the
/// fixtures per parser; each must parse or throw a `MediaError` naming the file, never trap.
/// `SKIPSTEP_LONG_TESTS=1` runs 50× more; see docs/TESTING.md.
@Suite("Fuzz: media parsers")
struct MediaFuzzTests {
    static func seeds(_ directory: String, extension ext: String) throws -> [(name: String, data: Data)] {
        let url = Fixtures.url(directory)
        return try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
            .filter { $0.hasSuffix(ext) }
            .map { ($0, try Data(contentsOf: url.appendingPathComponent($0))) }
    }

    /// Every refusal is a MediaError that names the file.
    static func expectNamedMediaError(_ error: any Error, _ path: String) {
        #expect(error is MediaError, "\(type(of: error)): \(error)")
        #expect(namedErrorProblem(error, path) == nil)
    }

    /// The NPY header's text mutated, its 16-bit length field (version 1.0) kept consistent.
    static func mutateNPYHeader(_ rng: inout FuzzMutator, _ data: Data) -> Data {
        let bytes = [UInt8](data)
        guard bytes.count >= 10, bytes[6] == 1 else { return rng.mutate(data, hot: 0..<min(data.count, 128)) }
        let length = Int(bytes[8]) | Int(bytes[9]) << 8
        guard 10 + length <= bytes.count else { return rng.mutate(data) }
        let header = rng.mutateText(String(decoding: bytes[10..<(10 + length)], as: UTF8.self))
        var headerBytes = Array(header.utf8)
        if headerBytes.count > 0xFFFF { headerBytes.removeLast(headerBytes.count - 0xFFFF) }
        var out = Data(bytes[0..<8])
        out.appendLittleEndian(UInt16(headerBytes.count))
        out.append(contentsOf: headerBytes)
        out.append(contentsOf: bytes[(10 + length)...])
        return out
    }

    static func parseNPY(_ data: Data) throws {
        // The image reader accepts uint8 as well; float files must then read the same way below.
        let images = try NPYImageArray.decode(data, path: "fuzz.npy")
        #expect(CheckedSize.product(images.shape) == images.values.count)
        if images.isUInt8 { return }
        let floats = try NPYArray.decode(data, path: "fuzz.npy")
        let doubles = try NPYDoubleArray.decode(data, path: "fuzz.npy")
        #expect(CheckedSize.product(floats.shape) == floats.values.count && doubles.values.count == floats.values.count)
    }

    static func parseNPZ(_ data: Data) throws {
        let archive = try NPZArchive.decode(data, path: "fuzz.npz")
        for key in archive.members.keys.sorted() {
            do { _ = try archive.doubleArray(key, path: "fuzz.npz") } catch { Self.expectNamedMediaError(error, "fuzz.npz") }
        }
    }

    static func parsePNG(_ data: Data) throws {
        let image = try Image8.decodePNG(data, path: "fuzz.png")
        #expect(image.pixels.count == image.width * image.height * image.channels)
    }

    static func parseIDX(_ data: Data, at url: URL) throws {
        try data.write(to: url)
        let array = try IDXArray.read(from: url)
        #expect(CheckedSize.product(array.shape) == array.bytes.count)
    }

    /// The committed libFuzzer corpora and crashers (Tests/Fixtures/fuzz/TARGET/), replayed
    /// without the fuzzer: each input must parse or throw a named MediaError.
    @Test(arguments: ["npy", "npz", "png", "idx"])
    func replayCorpus(_ target: String) throws {
        let directory = try fastTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("fuzz.idx")
        for (_, data) in fuzzCorpus(target) {
            do {
                switch target {
                case "npy": try Self.parseNPY(data)
                case "npz": try Self.parseNPZ(data)
                case "png": try Self.parsePNG(data)
                default: try Self.parseIDX(data, at: url)
                }
            } catch {
                Self.expectNamedMediaError(error, target == "idx" ? url.path : "fuzz.\(target)")
            }
        }
    }

    @Test func npy() throws {
        let uint8 = try NPZArchive.read(from: Fixtures.url("cleanfid/arr0.npz")).members["arr_0"].map { [(name: "arr0_u1.npy", data: $0)] } ?? []
        let seeds = try Self.seeds("media/npy", extension: ".npy") + Self.seeds("metrics/npz", extension: ".npy") + uint8
        let result = fuzz("npy", seeds: seeds, count: FuzzMutator.iterations(3000), mutate: { rng, data in
            rng.below(2) == 0 ? Self.mutateNPYHeader(&rng, data) : rng.mutate(data, hot: 0..<min(data.count, 128))
        }, body: Self.parseNPY, check: { error, _ in Self.expectNamedMediaError(error, "fuzz.npy") })
        #expect(result.parsed > 0 && result.refused > 0, "\(result)")
    }

    @Test func npz() throws {
        let seeds = try Self.seeds("metrics/npz", extension: ".npz")
        let result = fuzz("npz", seeds: seeds, count: FuzzMutator.iterations(2000), mutate: { rng, data in
            rng.mutate(data)
        }, body: Self.parseNPZ, check: { error, _ in Self.expectNamedMediaError(error, "fuzz.npz") })
        #expect(result.parsed > 0 && result.refused > 0, "\(result)")
    }

    /// Walks the chunks and rewrites each complete chunk's CRC, so mutations reach the IHDR,
    /// IDAT and filter code instead of stopping at the CRC check.
    static func fixCRCs(_ data: Data) -> Data {
        var bytes = [UInt8](data)
        var offset = 8
        while offset + 12 <= bytes.count {
            let length = Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            guard length <= bytes.count - offset - 12 else { break }
            let crc = bytes[(offset + 4)..<(offset + 8 + length)].withContiguousStorageIfAvailable {
                UInt32(CZlib.crc32(0, $0.baseAddress, uInt($0.count)))
            } ?? 0
            for k in 0..<4 { bytes[offset + 8 + length + k] = UInt8(truncatingIfNeeded: crc >> UInt32(24 - 8 * k)) }
            offset += 12 + length
        }
        return Data(bytes)
    }

    /// A PNG whose IDAT holds `raw` (filtered rows, possibly mutated) deflated.
    static func pngWithRawRows(_ raw: [UInt8], width: Int, height: Int, colour: UInt8) -> Data {
        var length = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(length))
        _ = compress2(&compressed, &length, raw, uLong(raw.count), 6)
        var header = Data()
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header.append(contentsOf: [8, colour, 0, 0, 0])
        func chunk(_ type: String, _ body: Data) -> Data {
            var out = Data()
            out.appendBigEndian(UInt32(body.count))
            out.append(contentsOf: Array(type.utf8))
            out.append(body)
            out.append(contentsOf: [0, 0, 0, 0])
            return out
        }
        let png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) + chunk("IHDR", header)
            + chunk("IDAT", Data(compressed[0..<Int(length)])) + chunk("IEND", Data())
        return fixCRCs(png)
    }

    /// JPEG through libjpeg-turbo: a decoded image has width × height × channels bytes; anything
    /// else is a MediaError naming the file (libjpeg-turbo's warnings included), never a trap or an exit.
    @Test func jpeg() throws {
        let seeds = try Self.seeds("cleanfid/images", extension: ".jpg")
        let result = fuzz("jpeg", seeds: seeds, count: FuzzMutator.iterations(600), mutate: { rng, data in
            rng.mutate(data, hot: 0..<min(data.count, 320))
        }, body: { data in
            let image = try Image8.decodeJPEG(data, path: "fuzz.jpg")
            #expect(image.pixels.count == image.width * image.height * image.channels)
        }, check: { error, _ in Self.expectNamedMediaError(error, "fuzz.jpg") })
        #expect(result.refused > 0, "\(result)")
    }

    @Test func png() throws {
        let seeds = try Self.seeds("media/png", extension: ".png")
        let result = fuzz("png", seeds: seeds, count: FuzzMutator.iterations(1500), mutate: { rng, data in
            switch rng.below(3) {
            case 0: return rng.mutate(data)
            case 1: return Self.fixCRCs(rng.mutate(data, hot: 8..<min(data.count, 41)))
            default:  // filtered rows with mutated filter bytes and values, validly compressed
                let (width, height) = (1 + rng.below(9), 1 + rng.below(9))
                let colour = rng.pick([0, 2, 4, 6] as [UInt8])
                let bpp = [0: 1, 2: 3, 4: 2, 6: 4][Int(colour)]!
                var raw = (0..<((width * bpp + 1) * height)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                for y in 0..<height { raw[y * (width * bpp + 1)] = UInt8(rng.below(6)) }
                if rng.below(4) == 0 { raw = [UInt8](rng.mutate(Data(raw))) }
                return Self.pngWithRawRows(raw, width: width, height: height, colour: colour)
            }
        }, body: Self.parsePNG, check: { error, _ in Self.expectNamedMediaError(error, "fuzz.png") })
        #expect(result.parsed > 0 && result.refused > 0, "\(result)")
    }

    @Test func idx() throws {
        let directory = try fastTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("fuzz.idx")
        let seeds = try Self.seeds("media/idx", extension: ".idx") + Self.seeds("media/idx", extension: ".gz")
        let result = fuzz("idx", seeds: seeds, count: FuzzMutator.iterations(1000), mutate: { rng, data in
            rng.mutate(data, hot: 0..<min(data.count, 16))
        }, body: { try Self.parseIDX($0, at: url) }, check: { error, _ in Self.expectNamedMediaError(error, url.path) })
        #expect(result.parsed > 0 && result.refused > 0, "\(result)")
    }
}
