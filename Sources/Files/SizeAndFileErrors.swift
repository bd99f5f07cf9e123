import CZlib
import Foundation

/// Size arithmetic for values that come from files or flags: a product that overflows `Int` or
/// holds a negative factor is `nil`, never a trap.
public enum CheckedSize {
    /// The product of `factors`, or nil when one is negative or the product overflows `Int`.
    public static func product<S: Sequence<Int>>(_ factors: S) -> Int? {
        var result = 1
        for factor in factors {
            guard factor >= 0 else { return nil }
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            guard !overflow else { return nil }
            result = next
        }
        return result
    }
}

/// Plain words for Foundation's file errors, which otherwise print as
/// "The operation could not be completed. (NSCocoaErrorDomain error 256.)".
public enum FileErrorText {
    /// Why reading or writing `error`'s file failed: the underlying POSIX reason when there is
    /// one ("Is a directory", "No such file or directory", "Permission denied", "Not a directory"),
    /// else a description of the Cocoa error code.
    public static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? any Error {
            if let posix = underlying as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
            let inner = underlying as NSError
            if inner.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(inner.code))) }
        }
        if ns.domain == NSCocoaErrorDomain {
            switch ns.code {
            case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return "No such file or directory"
            case NSFileReadNoPermissionError, NSFileWriteNoPermissionError: return "Permission denied"
            case NSFileReadTooLargeError: return "the file is too large to read"
            case NSFileReadCorruptFileError: return "the file is corrupt"
            case NSFileReadInapplicableStringEncodingError: return "the file is not valid text"
            case NSFileWriteFileExistsError: return "a file already exists there"
            case NSFileWriteOutOfSpaceError: return "no space left on the device"
            case NSFileWriteVolumeReadOnlyError: return "the volume is read-only"
            case NSFileReadUnknownError: return "unknown read error"
            case NSFileWriteUnknownError: return "unknown write error"
            default: break
            }
        }
        if let debug = ns.userInfo["NSDebugDescription"] as? String { return debug }
        return "\(ns.domain) error \(ns.code)"
    }
}

/// CRC-32 (zlib's, the ZIP/PNG polynomial) of byte strings taken in order, for detecting damaged
/// caches and files; not a defence against deliberate forgery.
public enum Checksum {
    public static func crc32<S: Sequence<Data>>(_ parts: S) -> UInt32 {
        var crc: UInt32 = 0
        for part in parts { crc = continueCRC32(part, crc) }
        return crc
    }
}

/// Module-level, so the name `crc32` inside `Checksum` does not hide the wrapper below.
private func continueCRC32(_ data: Data, _ crc: UInt32) -> UInt32 { crc32(of: data, startingAt: crc) }

/// zlib's CRC-32 of `data`, continuing from `start` (the ZIP/PNG polynomial).
public func crc32(of data: Data, startingAt start: UInt32 = 0) -> UInt32 {
    data.withUnsafeBytes { raw in
        var crc = uLong(start)
        var offset = 0
        while offset < raw.count {
            let chunk = min(raw.count - offset, 1 << 30)
            crc = CZlib.crc32(crc, raw.baseAddress!.advanced(by: offset).assumingMemoryBound(to: Bytef.self), uInt(chunk))
            offset += chunk
        }
        return UInt32(crc)
    }
}
