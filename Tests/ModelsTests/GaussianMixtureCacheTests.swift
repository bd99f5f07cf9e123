import Foundation
import Media
@testable import Models
import Testing
import TestSupport

/// A damaged or edited Gaussian mixture file (the fashion-gmm cache above all) used to load
/// silently whenever its values stayed a valid mixture; the content checksum now catches it.
@Suite("Gaussian mixture file integrity")
struct GaussianMixtureCacheTests {
    static func savedFile(in directory: URL, metadata: [String: String] = [:]) throws -> URL {
        let url = directory.appendingPathComponent("m.safetensors")
        try GMMGoldens.golden("d5k2").mixture().save(to: url, metadata: metadata)
        return url
    }

    @Test("a flipped byte in the values or an edited metadata value is a checksum mismatch")
    func corruptionIsDetected() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = try Self.savedFile(in: directory, metadata: ["note": "original"])
        let intact = try Data(contentsOf: url)
        #expect(try GaussianMixture.loadWithMetadata(from: url).metadata[GaussianMixture.checksumKey]?.count == 8)

        // The lowest byte of the first mean: the mixture stays valid, only the checksum notices.
        let file = try SafeTensorsFile(bytes: intact)
        let dataStart = intact.count - file.tensors.values.map(\.dataOffsets.upperBound).max()!
        var flipped = intact
        flipped[dataStart + file.tensors["means"]!.dataOffsets.lowerBound] ^= 0x01
        try flipped.write(to: url)
        let error = #expect(throws: GaussianMixtureFileError.self) { try GaussianMixture.load(from: url) }
        guard case .checksumMismatch(let path, _, _)? = error else {
            Issue.record("expected checksumMismatch, got \(String(describing: error))"); return
        }
        #expect(path == url.path && error!.localizedDescription.contains("damaged"))

        // Same length, one metadata value changed.
        var edited = intact
        let range = try #require(edited.range(of: Data("original".utf8)))
        edited.replaceSubrange(range, with: Data("modified".utf8))
        try edited.write(to: url)
        #expect(throws: GaussianMixtureFileError.self) { try GaussianMixture.load(from: url) }
    }

    @Test("a fashion-gmm cache must carry the checksum and the fit's options")
    func fashionCacheRequirements() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // An old cache without a checksum (a stand-in of the wrong shape is refused first either way).
        let url = directory.appendingPathComponent("cache.safetensors")
        try GaussianMixtureFileTests.writeFile(url, metadata: ["format": "skipstep-gmm", "version": "1",
                                                               "sample_shape": "2", "name": "fashion-gmm"])
        let stale = #expect(throws: GaussianMixtureFileError.self) { try GaussianMixture.loadFashionGMMCache(url) }
        #expect(stale?.localizedDescription.contains(GaussianMixture.checksumKey) == true, "\(String(describing: stale))")
        // Checksummed, but fitted with other options.
        let other = try Self.savedFile(in: directory, metadata: GaussianMixture.fashionGMMMetadata.merging(
            ["covariance": "centred gram / n_k"]) { _, new in new })
        let options = #expect(throws: GaussianMixtureFileError.self) { try GaussianMixture.loadFashionGMMCache(other) }
        #expect(options?.localizedDescription.contains("covariance") == true, "\(String(describing: options))")
    }

    @Test("absurd sample shapes are errors, not overflow traps")
    func hugeSampleShape() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("m.safetensors")
        for shape in ["4294967296,4294967296", "3037000500,3037000500", "9223372036854775807,2", "2097152"] {
            try GaussianMixtureFileTests.writeFile(url, metadata: ["format": "skipstep-gmm", "version": "1", "sample_shape": shape])
            #expect(throws: GaussianMixtureFileError.invalidMetadata(path: url.path, key: "sample_shape", value: shape)) {
                try GaussianMixture.load(from: url)
            }
        }
        #expect(throws: GaussianMixtureError.self) {
            try GaussianMixture(components: [.init(weight: 1, mean: [0], covariance: [1])], sampleShape: [1 << 32, 1 << 32])
        }
    }
}
