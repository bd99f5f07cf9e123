import Foundation
import Testing
@testable import Media
import TestSupport

/// Reading chosen members of an `.npz` (a guided-diffusion evaluator reference batch's `mu` and
/// `sigma` beside its images): Tests/Fixtures/adm/reference_batch.npz, written by numpy's np.savez
/// (tools/make_reference_batch_fixture.py).
@Suite struct NPZMemberSelectionTests {
    static let url = Fixtures.url("adm/reference_batch.npz")

    @Test func keysAreListedInTheArchivesOrder() throws {
        #expect(try NPZArchive.keys(of: Self.url) == ["arr_0", "mu", "sigma", "mu_s", "sigma_s"])
    }

    @Test func onlyTheChosenMembersAreRead() throws {
        let all = try NPZArchive.read(from: Self.url)
        let chosen = try NPZArchive.read(from: Self.url, keys: ["mu", "sigma"])
        #expect(chosen.members.keys.sorted() == ["mu", "sigma"])
        #expect(chosen.members["mu"] == all.members["mu"] && chosen.members["sigma"] == all.members["sigma"])
        #expect(try chosen.doubleArray("sigma", path: "r").shape == [128, 128])
    }

    /// A damaged member that is not asked for is not even checked; asked for, it is an error.
    @Test func skippedMembersAreNotRead() throws {
        var bytes = try Data(contentsOf: Self.url)
        let npy = Data([0x93]) + Data("NUMPY".utf8)
        let first = try #require(bytes.range(of: npy))  // arr_0 is the first member
        bytes[first.lowerBound + 200] ^= 0xFF
        let damaged = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-npz-\(UUID().uuidString).npz")
        try bytes.write(to: damaged)
        defer { try? FileManager.default.removeItem(at: damaged) }
        #expect(throws: MediaError.self) { try NPZArchive.read(from: damaged) }
        #expect(throws: MediaError.self) { try NPZArchive.read(from: damaged, keys: ["arr_0"]) }
        let stats = try NPZArchive.read(from: damaged, keys: ["mu", "sigma"])
        #expect(stats.members["mu"] == (try NPZArchive.read(from: Self.url)).members["mu"])
    }
}
