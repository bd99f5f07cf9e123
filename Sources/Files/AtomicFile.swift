import Foundation

/// Writes files so that readers see either the old contents or the new, never a half-written file.
public enum AtomicFile {
    /// Writes `data` to a temporary file in the target's directory, flushes it to disk and renames
    /// it over `url`. On failure the temporary file is removed, the target is left as it was, and
    /// the error names the target and says why (directory missing, not writable, disk full, ...).
    /// A new file gets mode 0644 (less the umask); a replaced file does not keep its old mode.
    public static func write(_ data: Data, to url: URL) throws {
        let path = url.path
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw FileWriteError.unwritable(path: path, reason: "directory \(directory) does not exist")
        }
        guard isDirectory.boolValue else {
            throw FileWriteError.unwritable(path: path, reason: "\(directory) is not a directory")
        }

        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(UUID().uuidString)").path
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw FileWriteError.unwritable(
                path: path, reason: "cannot create a file in \(directory): \(errnoDescription())")
        }

        var failure = data.withUnsafeBytes { writeAll(fd, $0) }
        if failure == nil, fsync(fd) != 0 { failure = "cannot flush to disk: \(errnoDescription())" }
        if close(fd) != 0, failure == nil { failure = "cannot close: \(errnoDescription())" }
        if failure == nil, rename(temporary, path) != 0 {
            failure = "cannot rename the temporary file over it: \(errnoDescription())"
        }
        if let failure {
            unlink(temporary)
            throw FileWriteError.unwritable(path: path, reason: failure)
        }
    }

    /// Writes every byte, retrying short writes and EINTR; returns why it failed, or nil.
    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> String? {
        guard var next = bytes.baseAddress else { return nil }
        var left = bytes.count
        while left > 0 {
            let written = Foundation.write(fd, next, left)
            if written < 0 {
                if errno == EINTR { continue }
                return errnoDescription()
            }
            next += written
            left -= written
        }
        return nil
    }
}

/// Why a file could not be written.
public enum FileWriteError: Error, LocalizedError, Equatable {
    case unwritable(path: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case let .unwritable(path, reason): "cannot write \(path): \(reason)"
        }
    }
}

/// The C library's text for an errno value.
public func errnoDescription(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
