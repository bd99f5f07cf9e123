import Foundation
import Testing
@testable import Media
import TestSupport

/// `.npz` files from tools/make_npz_fixtures.py: written by pytorch-fid's save path
/// (`np.savez_compressed`, deflated members, mu float32, sigma float64) and by `np.savez` (stored
/// members with numpy's ZIP64 local headers); `skipstep_b.npz` was written by `skipstep eval
/// --save-stats` and read back by pytorch-fid in that script.
@Suite struct NPZTests {
    struct Golden: Decodable {
        var mean_a: [Double]
        var cov_a: [Double]
    }

    static func fixture(_ name: String) -> URL { Fixtures.url("metrics/npz/" + name) }

    @Test(arguments: ["pytorch_fid_a.npz", "numpy_stored_a.npz"])
    func readsWhatNumpyWrites(_ name: String) throws {
        let golden = try Fixtures.json(Golden.self, "metrics/npz/golden.json")
        let path = Self.fixture(name).path
        let archive = try NPZArchive.read(from: Self.fixture(name))
        #expect(archive.members.keys.sorted() == ["mu", "sigma"])
        let mu = try archive.doubleArray("mu", path: path), sigma = try archive.doubleArray("sigma", path: path)
        #expect(mu.shape == [8])
        #expect(sigma.shape == [8, 8])
        // golden.json holds what pytorch-fid's loader returned for pytorch_fid_a.npz (mu float32
        // widened); numpy_stored_a.npz holds the same values as float64.
        #expect(mu.values == golden.mean_a)
        #expect(sigma.values == golden.cov_a)
    }

    @Test func writesAFileItReadsBackAndThatNumpyRead() throws {
        // skipstep_b.npz is what this writer produced when tools/make_npz_fixtures.py checked it
        // with pytorch-fid; rewriting its contents must give the same bytes.
        let original = try Data(contentsOf: Self.fixture("skipstep_b.npz"))
        let archive = try NPZArchive.read(from: Self.fixture("skipstep_b.npz"))
        #expect(archive.zipData() == original)

        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let values = NPYDoubleArray(shape: [2, 3], values: [1, -2.5, .pi, 1e-300, 0, -0.0])
        let url = dir.appendingPathComponent("x.npz")
        try NPZArchive(members: ["x": values.npyData(), "y": NPYDoubleArray(shape: [0], values: []).npyData()]).write(to: url)
        let back = try NPZArchive.read(from: url)
        #expect(try back.doubleArray("x", path: url.path).values.map(\.bitPattern) == values.values.map(\.bitPattern))
        #expect(try back.doubleArray("y", path: url.path).shape == [0])
    }

    /// A ZIP of one member "mu.npy" holding the raw deflate stream of nothing (03 00), its
    /// uncompressed size given only in a ZIP64 extra field as `claimedSize`.
    static func zipWithDeflatedMember(claimedSize: UInt64) -> Data {
        let name = Array("mu.npy".utf8), deflated: [UInt8] = [0x03, 0x00]
        var out = Data()
        out.appendLittleEndian(UInt32(0x0403_4B50))
        for field: UInt16 in [45, 0, 8, 0, 0x21] { out.appendLittleEndian(field) }
        for field: UInt32 in [0, UInt32(deflated.count), 0xFFFF_FFFF] { out.appendLittleEndian(field) }
        out.appendLittleEndian(UInt16(name.count))
        out.appendLittleEndian(UInt16(0))
        out.append(contentsOf: name + deflated)
        let directoryOffset = out.count
        out.appendLittleEndian(UInt32(0x0201_4B50))
        for field: UInt16 in [45, 45, 0, 8, 0, 0x21] { out.appendLittleEndian(field) }
        for field: UInt32 in [0, UInt32(deflated.count), 0xFFFF_FFFF] { out.appendLittleEndian(field) }
        for field: UInt16 in [UInt16(name.count), 12, 0, 0, 0] { out.appendLittleEndian(field) }
        out.appendLittleEndian(UInt32(0))
        out.appendLittleEndian(UInt32(0))
        out.append(contentsOf: name)
        out.appendLittleEndian(UInt16(1))
        out.appendLittleEndian(UInt16(8))
        out.appendLittleEndian(claimedSize)
        let directorySize = out.count - directoryOffset
        out.appendLittleEndian(UInt32(0x0605_4B50))
        for field: UInt16 in [0, 0, 1, 1] { out.appendLittleEndian(field) }
        out.appendLittleEndian(UInt32(directorySize))
        out.appendLittleEndian(UInt32(directoryOffset))
        out.appendLittleEndian(UInt16(0))
        return out
    }

    @Test func badFilesAreNamedErrors() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try Data(contentsOf: Self.fixture("pytorch_fid_a.npz"))

        func failure(_ bytes: Data) throws -> MediaError? {
            let url = dir.appendingPathComponent("bad.npz")
            try bytes.write(to: url)
            do { _ = try NPZArchive.read(from: url); return nil } catch let error as MediaError { return error }
        }
        let notZip = try #require(try failure(Data("not a zip file at all, but long enough to scan".utf8)))
        #expect(notZip.message.contains("bad.npz") && notZip.message.contains("end-of-central-directory"))
        #expect(try failure(Data()) != nil)
        // Cut in the middle: the directory at the end is gone.
        #expect(try failure(good.prefix(good.count / 2)) != nil)
        // One flipped byte inside the first member's deflated data: CRC or inflate fails.
        var corrupt = good
        corrupt[60] ^= 0xFF
        let corruptError = try #require(try failure(corrupt))
        #expect(corruptError.message.contains("mu.npy"))

        // A deflated member whose ZIP64 size claims 2⁵⁰ bytes: refused before allocating.
        let forged = try #require(try failure(Self.zipWithDeflatedMember(claimedSize: 1 << 50)))
        #expect(forged.message.contains("mu.npy") && forged.message.contains("1125899906842624"), "\(forged.message)")

        let archive = try NPZArchive.read(from: Self.fixture("pytorch_fid_a.npz"))
        #expect(throws: MediaError.self) { try archive.doubleArray("means", path: "stats.npz") }
        do { _ = try archive.doubleArray("means", path: "stats.npz") } catch let error as MediaError {
            #expect(error.message.contains("'means'") && error.message.contains("[\"mu\", \"sigma\"]"))
        }
    }
}
