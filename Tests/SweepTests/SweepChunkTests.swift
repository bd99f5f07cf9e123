import Foundation
import Media
import Sweep
import Testing
import TestSupport

/// A sweep chunk's two files as a resumed sweep reads them (`SweepChunk.read`): the samples must
/// be the chunk's count × the model's sample shape and the seconds a finite number ≥ 0, or the
/// error names the file. Also replays the libFuzzer corpus (tools/fuzz/run.sh sweep-chunk,
/// Tests/Fixtures/fuzz/sweep-chunk/: the .json's bytes, a NUL byte, the .npy's bytes).
@Suite struct SweepChunkTests {
    static func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-chunk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func read(json: Data, npy: Data, in directory: URL) throws -> (values: [Float], seconds: Double) {
        let time = directory.appendingPathComponent("chunk-0-3.json"), samples = directory.appendingPathComponent("chunk-0-3.npy")
        try json.write(to: time)
        try npy.write(to: samples)
        return try SweepChunk.read(samples: samples, time: time, count: 3, sampleShape: [1, 2, 2])
    }

    static func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return "(read)"
        } catch {
            return (error as? any LocalizedError)?.errorDescription ?? "\(error)"
        }
    }

    @Test func chunksAreCheckedAgainstTheirNameAndTheModel() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let values = (0..<12).map { Float($0) / 11 }
        func npy(_ shape: [Int]) throws -> Data {
            let url = directory.appendingPathComponent("source.npy")
            try NPYArray(shape: shape, values: (0..<shape.reduce(1, *)).map { Float($0) / 11 }).write(to: url)
            return try Data(contentsOf: url)
        }
        let good = Data(#"{"seconds": 1.5}"#.utf8)
        let read = try Self.read(json: good, npy: npy([3, 1, 2, 2]), in: directory)
        #expect(read.values == values && read.seconds == 1.5)

        // A chunk holding fewer (or more) samples than its name says, or samples of another
        // model: with the old whole-cell count check, 4 + 2 samples in chunks 0-3 and 3-6 passed
        // and every sample after the first chunk was shifted.
        for shape in [[2, 1, 2, 2], [4, 1, 2, 2], [3, 4], [3, 2, 2, 1]] {
            let message = Self.message { try Self.read(json: good, npy: npy(shape), in: directory) }
            #expect(message.contains("chunk-0-3.npy") && message.contains("\(shape)") && message.contains("[3, 1, 2, 2]"),
                    "\(shape): \(message)")
        }
        for json in [#"{"seconds": -1}"#, #"{"seconds": 1e999}"#, #"{"seconds": "1"}"#, #"{}"#, "", "[1]"] {
            let message = Self.message { try Self.read(json: Data(json.utf8), npy: npy([3, 1, 2, 2]), in: directory) }
            #expect(message.contains("chunk-0-3.json") && message.contains("resample"), "\(json): \(message)")
        }
        try FileManager.default.removeItem(at: directory.appendingPathComponent("chunk-0-3.json"))
        let missing = Self.message {
            try SweepChunk.read(samples: directory.appendingPathComponent("chunk-0-3.npy"),
                                time: directory.appendingPathComponent("chunk-0-3.json"), count: 3, sampleShape: [1, 2, 2])
        }
        #expect(missing.contains("chunk-0-3.json") && !missing.contains("NSCocoaErrorDomain"), "\(missing)")
    }

    /// Written chunks carry the CRC-32 of their `.npy` and the cell and samples they hold: an
    /// edit in place that keeps the shape, a chunk copied from another cell or renamed to other
    /// samples is refused, naming the file and the fix; an older chunk without the record still reads.
    @Test func checksumsCatchEditedAndMisplacedChunks() throws {
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let samples = directory.appendingPathComponent("chunk-6-9.npy"), time = directory.appendingPathComponent("chunk-6-9.json")
        let array = NPYArray(shape: [3, 1, 2, 2], values: (0..<12).map { Float($0) / 7 })
        try SweepChunk.write(array, seconds: 2.5, cell: "mix-25-tc291", range: 6..<9, samples: samples, time: time)
        let record = try SweepChunk.record(time)
        #expect(record.cell == "mix-25-tc291" && record.samples == [6, 9] && record.seconds == 2.5)
        func read(cell: String = "mix-25-tc291", first: Int = 6) throws -> (values: [Float], seconds: Double) {
            try SweepChunk.read(samples: samples, time: time, count: 3, sampleShape: [1, 2, 2], cell: cell, first: first)
        }
        #expect(try read().values == array.values)

        let wrongCell = Self.message { try read(cell: "ddim-25") }
        #expect(wrongCell.contains("chunk-6-9.json") && wrongCell.contains("mix-25-tc291") && wrongCell.contains("resample"),
                "\(wrongCell)")
        let wrongRange = Self.message { try read(first: 0) }
        #expect(wrongRange.contains("chunk-6-9.json") && wrongRange.contains("[6, 9]"), "\(wrongRange)")

        // One value changed in place: same shape, same size, so only the checksum can tell.
        var edited = array
        edited.values[5] += 1
        try edited.write(to: samples)
        let message = Self.message { try read() }
        #expect(message.contains("chunk-6-9.npy") && message.contains("CRC-32") && message.contains("resample"), "\(message)")

        // A chunk written before the checksums (its .json holds the seconds only) reads unchecked.
        try Data(#"{"seconds": 1}"#.utf8).write(to: time)
        #expect(try read().values == edited.values)
    }

    @Test func replayCorpus() throws {
        let corpus = fuzzCorpus("sweep-chunk")
        #expect(corpus.count > 20)
        let directory = try Self.directory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var valid = 0
        for (name, data) in corpus {
            let split = data.firstIndex(of: 0) ?? data.endIndex
            let npy = split < data.endIndex ? data[(split + 1)...] : Data()
            do {
                let chunk = try Self.read(json: Data(data[..<split]), npy: Data(npy), in: directory)
                valid += 1
                #expect(chunk.values.count == 12 && chunk.seconds.isFinite && chunk.seconds >= 0, "\(name)")
            } catch {
                #expect(namedErrorProblem(error, directory.appendingPathComponent("chunk-0-3").path) == nil, "\(name)")
            }
        }
        #expect(valid > 0)
    }
}
