import CZlib
import Files
import Foundation

/// An array of unsigned bytes in the IDX format of MNIST and Fashion-MNIST: magic 00 00 08 n,
/// then n big-endian UInt32 dimensions, then the bytes in C order. Files may be gzip-compressed;
/// zlib's gz reader reads plain files as they are.
public struct IDXArray: Equatable, Sendable {
    public var shape: [Int]
    public var bytes: [UInt8]

    public init(shape: [Int], bytes: [UInt8]) {
        self.shape = shape
        self.bytes = bytes
    }

    /// Reads a `.gz` or plain IDX file of unsigned bytes (type 0x08), checking the magic, the
    /// dimensions, and that the payload holds exactly the product of the dimensions.
    public static func read(from url: URL) throws -> IDXArray {
        let path = try checkReadableFile(url)
        let reader = try GzipReader(path: path)
        func truncated(_ expected: Int, _ found: Int) -> MediaError {
            .truncated(path: path, format: "IDX", expectedBytes: expected, foundBytes: found)
        }

        let magic = try reader.read(upTo: 4)
        guard magic.count == 4 else { throw truncated(4, magic.count) }
        guard magic[0] == 0, magic[1] == 0, magic[3] > 0 else {
            throw MediaError.malformed(path: path, format: "IDX",
                                       expected: "magic 00 00 <type> <number of dimensions ≥ 1>", found: hex(magic))
        }
        guard magic[2] == 0x08 else {
            let types: [UInt8: String] = [0x09: "signed byte", 0x0B: "int16", 0x0C: "int32", 0x0D: "float32", 0x0E: "float64"]
            guard let name = types[magic[2]] else {
                throw MediaError.malformed(path: path, format: "IDX", expected: "type code 08, 09, 0B, 0C, 0D or 0E",
                                           found: String(format: "%02X", magic[2]))
            }
            throw MediaError.unsupported(path: path, format: "IDX",
                                         feature: "element type \(name) (0x\(String(format: "%02X", magic[2]))); only unsigned bytes (0x08) are read")
        }

        let rank = Int(magic[3])
        let headerLength = 4 + 4 * rank
        let dimensionBytes = try reader.read(upTo: 4 * rank)
        guard dimensionBytes.count == 4 * rank else { throw truncated(headerLength, 4 + dimensionBytes.count) }
        let shape = (0..<rank).map { d in (0..<4).reduce(0) { $0 << 8 | Int(dimensionBytes[4 * d + $1]) } }
        var count = 1
        for dimension in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw MediaError.malformed(path: path, format: "IDX", expected: "dimensions whose product fits in memory",
                                           found: "\(shape)")
            }
            count = product
        }

        let bytes = try reader.read(upTo: count)
        guard bytes.count == count else { throw truncated(headerLength + count, headerLength + bytes.count) }
        let extra = try reader.read(upTo: 1)
        guard extra.isEmpty else {
            throw MediaError.malformed(path: path, format: "IDX", expected: "\(count) data bytes for shape \(shape)",
                                       found: "more data after them")
        }
        try reader.close()
        return IDXArray(shape: shape, bytes: bytes)
    }
}

/// Streams a gzip (or plain) file through zlib's gzopen/gzread.
final class GzipReader {
    private var file: gzFile?
    private let path: String

    init(path: String) throws {
        guard let file = gzopen(path, "rb") else {
            throw MediaError.unreadable(path: path, reason: errnoDescription())
        }
        self.file = file
        self.path = path
    }

    deinit {
        if let file { gzclose_r(file) }
    }

    /// Up to `count` bytes; fewer only at the end of the data. The buffer grows as data arrives,
    /// so a corrupt header announcing a huge size costs no more memory than the file holds.
    func read(upTo count: Int) throws -> [UInt8] {
        guard let file else { return [] }
        let chunk = 1 << 20
        var bytes: [UInt8] = []
        bytes.reserveCapacity(min(count, 64 << 20))
        var buffer = [UInt8](repeating: 0, count: min(count, chunk))
        while bytes.count < count {
            let want = min(chunk, count - bytes.count)
            let got = gzread(file, &buffer, UInt32(want))
            guard got >= 0 else { throw gzipError(file) }
            if got == 0 { break }
            bytes.append(contentsOf: buffer[0..<Int(got)])
        }
        if bytes.count < count { try checkStatus(file) }  // a short read may be a damaged stream
        return bytes
    }

    func close() throws {
        guard let file else { return }
        self.file = nil
        let status = gzclose_r(file)
        guard status == Z_OK else {
            throw MediaError.malformed(path: path, format: "gzip", expected: "a complete gzip stream",
                                       found: status == Z_BUF_ERROR ? "it ends early" : "zlib status \(status)")
        }
    }

    private func checkStatus(_ file: gzFile) throws {
        var status: Int32 = Z_OK
        _ = gzerror(file, &status)
        if status != Z_OK { throw gzipError(file) }
    }

    private func gzipError(_ file: gzFile) -> MediaError {
        var status: Int32 = Z_OK
        var message = gzerror(file, &status).map { String(cString: $0) } ?? "unknown error"
        if message.hasPrefix(path + ": ") { message.removeFirst(path.count + 2) }  // zlib prefixes the path
        if status == Z_ERRNO {
            return .unreadable(path: path, reason: errnoDescription())
        }
        return .malformed(path: path, format: "gzip", expected: "a complete, uncorrupted gzip stream",
                          found: "zlib: \(message)")
    }
}
