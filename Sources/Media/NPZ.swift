import CZlib
import Files
import Foundation

/// A NumPy `.npz` archive: a ZIP file whose members are `.npy` files, named `KEY.npy`
/// (numpy/lib/_npyio_impl.py). Reads what `np.savez` (stored) and `np.savez_compressed` (deflate)
/// write, ZIP64 records included; writes stored members, as `np.savez` does, so `np.load` reads
/// them. pytorch-fid keeps its statistics in this format (`mu`, `sigma`).
public struct NPZArchive: Sendable {
    /// Member bytes (a `.npy` file each) by key, the member name without `.npy`.
    public var members: [String: Data]

    public init(members: [String: Data] = [:]) { self.members = members }

    public static func read(from url: URL) throws -> NPZArchive {
        try decode(readContents(of: url), path: url.path)
    }

    /// Only the members named in `keys`; the file is memory-mapped and the other members are
    /// neither read nor checked, so the statistics of a guided-diffusion reference batch (`mu`,
    /// `sigma` beside gigabytes of `arr_0` images) cost only their own bytes.
    public static func read(from url: URL, keys: Set<String>) throws -> NPZArchive {
        try mapped(url) { try $0.members(keep: keys.contains).archive }
    }

    /// The member keys (names without `.npy`) in the archive's order, without reading the members.
    public static func keys(of url: URL) throws -> [String] {
        try mapped(url) { try $0.members(keep: { _ in false }).keys }
    }

    private static func mapped<T>(_ url: URL, _ body: (ZipReader) throws -> T) throws -> T {
        let path = try checkReadableFile(url)
        let data: Data
        do { data = try Data(contentsOf: url, options: .alwaysMapped) } catch {
            throw MediaError.unreadable(path: path, reason: FileErrorText.reason(error))
        }
        return try data.withUnsafeBytes { try body(ZipReader(bytes: $0, path: url.path)) }
    }

    /// Parses the bytes of a `.npz` file; `path` only names the file in errors.
    static func decode(_ data: Data, path: String) throws -> NPZArchive {
        try data.withUnsafeBytes { try ZipReader(bytes: $0, path: path).members(keep: { _ in true }).archive }
    }

    /// The member `key` as a float64 array, or an error naming the file and the keys it holds.
    public func doubleArray(_ key: String, path: String) throws -> NPYDoubleArray {
        guard let bytes = members[key] else {
            throw MediaError.malformed(path: path, format: "NPZ", expected: "an array named '\(key)'",
                                       found: "keys \(members.keys.sorted())")
        }
        return try NPYDoubleArray.decode(bytes, path: "\(path)[\(key)]")
    }

    /// The member `key` as image data (float32, float64 or uint8), or an error naming the file
    /// and the keys it holds.
    public func imageArray(_ key: String, path: String) throws -> NPYImageArray {
        guard let bytes = members[key] else {
            throw MediaError.malformed(path: path, format: "NPZ", expected: "an array named '\(key)'",
                                       found: "keys \(members.keys.sorted())")
        }
        return try NPYImageArray.decode(bytes, path: "\(path)[\(key)]")
    }

    /// A stored (uncompressed) ZIP of the members in key order, with a fixed timestamp, so equal
    /// contents give equal files.
    public func zipData() -> Data {
        var out = Data(), central = Data()
        for key in members.keys.sorted() {
            let name = Array("\(key).npy".utf8), body = members[key]!
            precondition(body.count < Int(UInt32.max), "NPZArchive: member \(key) needs ZIP64")
            let crc = crc32(of: body), offset = UInt32(out.count)
            // version 20, flags 0, method 0 (stored), time 00:00, date 1980-01-01
            let common: [UInt16] = [20, 0, 0, 0, 0x21]
            out.appendLittleEndian(UInt32(0x0403_4B50))
            for field in common { out.appendLittleEndian(field) }
            for field in [crc, UInt32(body.count), UInt32(body.count)] { out.appendLittleEndian(field) }
            out.appendLittleEndian(UInt16(name.count))
            out.appendLittleEndian(UInt16(0))
            out.append(contentsOf: name)
            out.append(body)

            central.appendLittleEndian(UInt32(0x0201_4B50))
            central.appendLittleEndian(UInt16(20))  // made by
            for field in common { central.appendLittleEndian(field) }
            for field in [crc, UInt32(body.count), UInt32(body.count)] { central.appendLittleEndian(field) }
            for field: UInt16 in [UInt16(name.count), 0, 0, 0, 0] { central.appendLittleEndian(field) }
            central.appendLittleEndian(UInt32(0))  // external attributes
            central.appendLittleEndian(offset)
            central.append(contentsOf: name)
        }
        let centralOffset = UInt32(out.count)
        out.append(central)
        out.appendLittleEndian(UInt32(0x0605_4B50))
        for field: UInt16 in [0, 0, UInt16(members.count), UInt16(members.count)] { out.appendLittleEndian(field) }
        out.appendLittleEndian(UInt32(central.count))
        out.appendLittleEndian(centralOffset)
        out.appendLittleEndian(UInt16(0))
        return out
    }

    /// Writes `zipData()` through `AtomicFile`.
    public func write(to url: URL) throws {
        try AtomicFile.write(zipData(), to: url)
    }
}


/// Reads a ZIP file through its central directory (APPNOTE.TXT §4.3), ZIP64 included.
private struct ZipReader {
    let bytes: UnsafeRawBufferPointer
    let path: String

    func malformed(_ expected: String, _ found: String) -> MediaError {
        .malformed(path: path, format: "NPZ (ZIP)", expected: expected, found: found)
    }

    func u16(_ at: Int) throws -> Int {
        guard at >= 0, at + 2 <= bytes.count else { throw MediaError.truncated(path: path, format: "NPZ (ZIP)", expectedBytes: at + 2, foundBytes: bytes.count) }
        return Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
    }

    func u32(_ at: Int) throws -> Int {
        guard at >= 0, at + 4 <= bytes.count else { throw MediaError.truncated(path: path, format: "NPZ (ZIP)", expectedBytes: at + 4, foundBytes: bytes.count) }
        return Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
    }

    func u64(_ at: Int) throws -> Int {
        guard at >= 0, at + 8 <= bytes.count else { throw MediaError.truncated(path: path, format: "NPZ (ZIP)", expectedBytes: at + 8, foundBytes: bytes.count) }
        let value = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
        guard value <= UInt64(Int.max / 2) else { throw malformed("a ZIP64 size or offset that fits", "\(value)") }
        return Int(value)
    }

    /// The members whose key `keep` accepts (the others are skipped unread) and every key in order.
    func members(keep: (String) -> Bool) throws -> (archive: NPZArchive, keys: [String]) {
        // The end-of-central-directory record: the last signature within 22 + 65535 bytes of the end.
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        guard let end = stride(from: bytes.count - 22, through: lowest, by: -1).first(where: { (try? u32($0)) == 0x0605_4B50 }) else {
            throw malformed("a ZIP end-of-central-directory record (np.savez writes ZIP files)",
                            bytes.isEmpty ? "an empty file" : "none in \(bytes.count) bytes")
        }
        var entries = try u16(end + 10), directoryOffset = try u32(end + 16)
        if entries == 0xFFFF || directoryOffset == 0xFFFF_FFFF, end >= 20, try u32(end - 20) == 0x0706_4B50 {
            let record = try u64(end - 20 + 8)
            guard try u32(record) == 0x0606_4B50 else { throw malformed("a ZIP64 end-of-central-directory record", "none at \(record)") }
            entries = try u64(record + 32)
            directoryOffset = try u64(record + 48)
        }

        var archive = NPZArchive(), keys: [String] = [], at = directoryOffset
        for _ in 0..<entries {
            guard try u32(at) == 0x0201_4B50 else { throw malformed("a central directory entry", "none at offset \(at)") }
            let flags = try u16(at + 8), method = try u16(at + 10), crc = try u32(at + 16)
            var compressedSize = try u32(at + 20), size = try u32(at + 24), localOffset = try u32(at + 42)
            let nameLength = try u16(at + 28), extraLength = try u16(at + 30), commentLength = try u16(at + 32)
            guard at + 46 + nameLength <= bytes.count else { throw malformed("a member name", "the file ends") }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(at + 46)..<(at + 46 + nameLength)]), as: UTF8.self)
            // ZIP64 extended information: the 64-bit values of the fields set to 0xFFFFFFFF, in order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = try u16(extra), length = try u16(extra + 2)
                if id == 0x0001 {
                    var field = extra + 4
                    if size == 0xFFFF_FFFF { size = try u64(field); field += 8 }
                    if compressedSize == 0xFFFF_FFFF { compressedSize = try u64(field); field += 8 }
                    if localOffset == 0xFFFF_FFFF { localOffset = try u64(field) }
                }
                extra += 4 + length
            }
            at = extraEnd + commentLength
            let key = name.hasSuffix(".npy") ? String(name.dropLast(4)) : name
            keys.append(key)
            guard keep(key) else { continue }

            guard flags & 1 == 0 else { throw MediaError.unsupported(path: path, format: "NPZ (ZIP)", feature: "encrypted member \(name)") }
            guard try u32(localOffset) == 0x0403_4B50 else { throw malformed("a local header for \(name)", "none at offset \(localOffset)") }
            let start = localOffset + 30 + (try u16(localOffset + 26)) + (try u16(localOffset + 28))
            guard start + compressedSize <= bytes.count else {
                throw MediaError.truncated(path: path, format: "NPZ (ZIP)", expectedBytes: start + compressedSize, foundBytes: bytes.count)
            }
            let stored = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + compressedSize)])
            let body: Data
            switch method {
            case 0: body = Data(stored)
            case 8: body = try inflateRaw(stored, size: size, name: name)
            default: throw MediaError.unsupported(path: path, format: "NPZ (ZIP)", feature: "compression method \(method) for \(name) (read: stored, deflate)")
            }
            guard body.count == size, Int(crc32(of: body)) == crc else {
                throw malformed("\(name) with CRC-32 \(String(format: "%08x", crc)), \(size) bytes", "a corrupt member")
            }
            archive.members[key] = body
        }
        return (archive, keys)
    }

    func inflateRaw(_ input: UnsafeRawBufferPointer, size: Int, name: String) throws -> Data {
        // Deflate expands at most 1032:1, so a larger announced size is corrupt; checking first
        // keeps a forged ZIP64 size from becoming a huge allocation.
        let (bound, overflow) = input.count.multipliedReportingOverflow(by: 1032)
        guard !overflow, size <= bound + 1024 else {
            throw malformed("\(name) of at most 1032 × \(input.count) bytes (deflate's limit)", "an announced size of \(size) bytes")
        }
        var output = Data(count: size)
        var stream = z_stream()
        guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw MediaError.unreadable(path: path, reason: "zlib could not start inflating \(name)")
        }
        defer { inflateEnd(&stream) }
        let status = output.withUnsafeMutableBytes { out -> Int32 in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(out.count)
            return inflate(&stream, Z_FINISH)
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == size else {
            throw malformed("\(size) bytes of deflated data in \(name)", "a corrupt or incomplete stream (zlib status \(status))")
        }
        return output
    }
}
