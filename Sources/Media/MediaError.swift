import Files
import Foundation

/// Everything that can go wrong reading or writing media files. Each case names the file and,
/// where the bytes are at fault, what the format requires and what the file holds instead.
public enum MediaError: Error, LocalizedError, Equatable {
    /// The file could not be opened or read (missing, a directory, no permission).
    case unreadable(path: String, reason: String)
    /// The bytes are not a valid file of `format`.
    case malformed(path: String, format: String, expected: String, found: String)
    /// The file is valid but uses a feature these readers do not implement.
    case unsupported(path: String, format: String, feature: String)
    /// The file ends early: its header announces `expectedBytes` in all, it holds `foundBytes`
    /// (for gzip files: after decompression).
    case truncated(path: String, format: String, expectedBytes: Int, foundBytes: Int)
    /// A data set's files are not in the directory where they were looked for.
    case datasetMissing(name: String, directory: String, missingFiles: [String], hint: String)
    /// A name that should select part of a data set does not (`reason` says what was expected).
    case invalidSelection(name: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .unreadable(path, reason):
            return "cannot read \(path): \(reason)"
        case let .malformed(path, format, expected, found):
            return "\(path) is not a valid \(format) file: expected \(expected), found \(found)"
        case let .unsupported(path, format, feature):
            return "\(path): unsupported \(format) file: \(feature)"
        case let .truncated(path, format, expectedBytes, foundBytes):
            return "\(path) is a truncated \(format) file: its header announces \(expectedBytes) bytes, "
                + "the file holds \(foundBytes)"
        case let .datasetMissing(name, directory, missingFiles, hint):
            return "\(name) not found in \(directory) (missing \(missingFiles.joined(separator: ", "))); \(hint)"
        case let .invalidSelection(name, reason):
            return "\(name): \(reason)"
        }
    }
}

/// Throws `MediaError.unreadable` unless `url` names an existing file that is not a directory;
/// returns its path.
@discardableResult
func checkReadableFile(_ url: URL) throws -> String {
    let path = url.path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw MediaError.unreadable(path: path, reason: "no such file")
    }
    guard !isDirectory.boolValue else { throw MediaError.unreadable(path: path, reason: "it is a directory") }
    return path
}

/// Reads a whole file, turning the usual failures into `MediaError.unreadable` with a plain reason.
func readContents(of url: URL) throws -> Data {
    let path = try checkReadableFile(url)
    do {
        return try Data(contentsOf: url)
    } catch {
        throw MediaError.unreadable(path: path, reason: FileErrorText.reason(error))
    }
}

/// The bytes as spaced hex, for error messages ("89 50 4E 47").
func hex<C: Collection<UInt8>>(_ bytes: C) -> String {
    bytes.map { String(format: "%02X", $0) }.joined(separator: " ")
}

/// `strerror(errno)`, for error messages.

