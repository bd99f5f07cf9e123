import Files
import Foundation
import Media

/// One chunk of a cell's samples as a sweep directory keeps it: `chunk-A-B.npy` (samples A..<B,
/// float32, (B − A) × C × H × W) and `chunk-A-B.json` (`Record`: the seconds spent sampling them,
/// the CRC-32 of the `.npy`'s bytes, and the cell and samples it holds). Read back when a resumed
/// sweep scores the cell, so both files are checked against what the name, the record and the
/// model say they hold: a chunk with other samples than its name says would shift every later
/// sample of the cell (or, short, crash the evaluator); one edited or damaged after it was written,
/// or copied from another cell, would be scored as if the sampler had made it.
public enum SweepChunk {
    /// A chunk's `.json`. `crc32`, `cell` and `samples` are written since skipstep 0.2.0's chunk
    /// checksums; a chunk without them (an older sweep's) is checked by shape only.
    public struct Record: Codable, Equatable, Sendable {
        public var seconds: Double
        public var crc32: UInt32?
        public var cell: String?
        public var samples: [Int]?

        public init(seconds: Double, crc32: UInt32? = nil, cell: String? = nil, samples: [Int]? = nil) {
            self.seconds = seconds
            self.crc32 = crc32
            self.cell = cell
            self.samples = samples
        }
    }

    /// Writes the chunk's `.npy`, then its `.json` with the checksum of those bytes (each through
    /// `AtomicFile`; a chunk counts as present only once both exist).
    public static func write(_ array: NPYArray, seconds: Double, cell: String, range: Range<Int>,
                             samples samplesURL: URL, time timeURL: URL) throws {
        let bytes = array.npyData()
        try AtomicFile.write(bytes, to: samplesURL)
        let record = Record(seconds: seconds, crc32: crc32(of: bytes), cell: cell, samples: [range.lowerBound, range.upperBound])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(encoder.encode(record) + Data("\n".utf8), to: timeURL)
    }

    /// The chunk's samples (`count × sampleShape` values) and its sampling seconds; any mismatch
    /// is `SweepError.corrupt` naming the file, what it holds and what was expected. `cell` and
    /// `first` (the chunk's first sample), when given, must equal what the record says.
    public static func read(samples samplesURL: URL, time timeURL: URL, count: Int, sampleShape: [Int],
                            cell: String? = nil, first: Int? = nil) throws -> (values: [Float], seconds: Double) {
        let fix = "; delete it and the chunk's other file to resample the chunk"
        let record = try self.record(timeURL)
        if let cell, let recorded = record.cell, recorded != cell {
            throw SweepError.corrupt(path: timeURL.path, reason: "belongs to cell \(recorded), not \(cell) (copied from "
                                     + "another cell?)" + fix)
        }
        if let first, let recorded = record.samples, recorded != [first, first + count] {
            throw SweepError.corrupt(path: timeURL.path, reason: "records samples \(recorded), expected "
                                     + "[\(first), \(first + count)]" + fix)
        }
        let (array, bytes) = try NPYArray.readWithBytes(from: samplesURL)
        if let expected = record.crc32, crc32(of: bytes) != expected {
            throw SweepError.corrupt(path: samplesURL.path, reason: "does not match the CRC-32 recorded in "
                                     + "\(timeURL.lastPathComponent) when it was written (edited or damaged)" + fix)
        }
        let expected = [count] + sampleShape
        guard array.shape == expected else {
            throw SweepError.corrupt(path: samplesURL.path, reason: "holds an array of shape \(array.shape), expected "
                                     + "\(expected) (the \(count) samples its name says)" + fix)
        }
        return (array.values, record.seconds)
    }

    /// The `seconds` of a chunk's `.json`: a finite number ≥ 0.
    public static func seconds(_ url: URL) throws -> Double {
        try record(url).seconds
    }

    /// A chunk's `.json`, with `seconds` a finite number ≥ 0.
    public static func record(_ url: URL) throws -> Record {
        let fix = "; delete it and the chunk's .npy to resample the chunk"
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw SweepError.corrupt(path: url.path, reason: "cannot be read (\(FileErrorText.reason(error)))" + fix)
        }
        guard let record = try? JSONDecoder().decode(Record.self, from: data) else {
            throw SweepError.corrupt(path: url.path, reason: "expected {\"seconds\": number, \"crc32\": …}" + fix)
        }
        guard record.seconds.isFinite, record.seconds >= 0 else {
            throw SweepError.corrupt(path: url.path, reason: "seconds = \(record.seconds), expected a finite number ≥ 0" + fix)
        }
        return record
    }
}
