import Files
import Foundation
import Media

/// One chunk of a cell's samples as a sweep directory keeps it: `chunk-A-B.npy` (samples A..<B,
/// float32, (B − A) × C × H × W) and `chunk-A-B.json` (`{"seconds": …}` spent sampling them). Read
/// back when a resumed sweep scores the cell, so both files are checked against what the name and
/// the model say they hold: a chunk with other samples than its name says would shift every later
/// sample of the cell (or, short, crash the evaluator).
public enum SweepChunk {
    /// The chunk's samples (`count × sampleShape` values) and its sampling seconds; any mismatch
    /// is `SweepError.corrupt` naming the file, what it holds and what was expected.
    public static func read(samples samplesURL: URL, time timeURL: URL, count: Int,
                            sampleShape: [Int]) throws -> (values: [Float], seconds: Double) {
        let array = try NPYArray.read(from: samplesURL)
        let expected = [count] + sampleShape
        guard array.shape == expected else {
            throw SweepError.corrupt(path: samplesURL.path, reason: "holds an array of shape \(array.shape), expected "
                                     + "\(expected) (the \(count) samples its name says); delete it to resample the chunk")
        }
        return (array.values, try seconds(timeURL))
    }

    /// The `seconds` of a chunk's `.json`: a finite number ≥ 0.
    public static func seconds(_ url: URL) throws -> Double {
        let fix = "; delete it and the chunk's .npy to resample the chunk"
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw SweepError.corrupt(path: url.path, reason: "cannot be read (\(FileErrorText.reason(error)))" + fix)
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Double],
              let seconds = object["seconds"] else {
            throw SweepError.corrupt(path: url.path, reason: "expected {\"seconds\": number}" + fix)
        }
        guard seconds.isFinite, seconds >= 0 else {
            throw SweepError.corrupt(path: url.path, reason: "seconds = \(seconds), expected a finite number ≥ 0" + fix)
        }
        return seconds
    }
}
