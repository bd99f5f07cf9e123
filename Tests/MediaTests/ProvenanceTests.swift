import Files
import Foundation
import Media
import Testing

/// SHA-256 against FIPS 180-4's examples and coreutils' `sha256sum`; PNG text chunks and JSON
/// sidecars read back.
@Suite struct ProvenanceTests {
    @Test func sha256MatchesTheStandardsExamples() {
        // FIPS 180-4 / NIST CSVP example values.
        #expect(SHA256.hexDigest(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hexDigest(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hexDigest(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hexDigest(Data(repeating: UInt8(ascii: "a"), count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Fed in uneven pieces, the digest is the same.
        var pieces = SHA256()
        let text = Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        pieces.update(text.prefix(3)); pieces.update(text.dropFirst(3).prefix(61)); pieces.update(text.dropFirst(64))
        #expect(SHA256.hex(pieces.finalize()) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test func fileDigestEqualsSha256sum() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-sha-\(UUID().uuidString).bin")
        defer { try? FileManager.default.removeItem(at: url) }
        var x: UInt32 = 12345
        try Data((0..<(1 << 20) + 77).map { _ in x = x &* 1_664_525 &+ 1_013_904_223; return UInt8(truncatingIfNeeded: x >> 24) })
            .write(to: url)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [url.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let expected = String(output.prefix(64))
        #expect(try FileDigest.sha256(of: url) == expected)
        #expect(try FileDigest.sha256(of: url) == expected)  // cached
    }

    static let provenance = SampleProvenance(skipstepVersion: "9.9.9", model: "models/ünet", weightsFile: "w.safetensors",
                                             weightsSHA256: String(repeating: "ab", count: 32), sampler: "mix:cutoff=291",
                                             steps: 25, seed: 18_446_744_073_709_551_615, rng: "philox", classLabel: "random")

    @Test func pngTextReadsBack() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-text-\(UUID().uuidString).png")
        defer { try? FileManager.default.removeItem(at: url) }
        let image = Image8(width: 3, height: 2, channels: 1, pixels: [0, 50, 100, 150, 200, 250])
        let entries = Self.provenance.entries(indices: 0..<16)
        try AtomicFile.write(image.pngData(text: entries), to: url)
        #expect(try Image8.readPNG(from: url) == image)
        let read = try Image8.readPNGText(from: url)
        #expect(read.map(\.key) == entries.map(\.key))
        #expect(read.map(\.value) == entries.map(\.value))
        let fields = Dictionary(uniqueKeysWithValues: read.map { ($0.key, $0.value) })
        #expect(fields["model"] == "models/ünet" && fields["sample_indices"] == "0-15" && fields["steps"] == "25")
        #expect(fields["seed"] == "18446744073709551615" && fields["sampler"] == "mix:cutoff=291")
        #expect(Self.provenance.entries(indices: 7..<8).last! == ("sample_index", "7"))
    }

    @Test func sidecarHoldsTheSameFields() throws {
        let data = try Self.provenance.sidecarData(indices: 3..<4)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["sample_index"] as? Int == 3)
        #expect((object["seed"] as? NSNumber)?.uint64Value == 18_446_744_073_709_551_615)
        #expect(object["steps"] as? Int == 25 && object["weights_sha256"] as? String == String(repeating: "ab", count: 32))
        #expect(object["skipstep_version"] as? String == "9.9.9" && object["class"] as? String == "random")
        #expect(SampleProvenance.sidecarURL(for: URL(fileURLWithPath: "/x/s.npy")).path == "/x/s.npy.json")
    }
}
