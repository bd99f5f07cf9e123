import Foundation

/// Whole gzip files (a plain file is returned as it is, as zlib's gzread does): test fixtures
/// stored compressed, e.g. a 3.6 MB tokenizer.json kept as 0.6 MB.
public enum Gzip {
    /// The decompressed bytes of the file at `url`, at most `limit` of them; errors are
    /// `MediaError`s naming the file (a damaged stream, more data than `limit`).
    public static func read(contentsOf url: URL, limit: Int = 1 << 30) throws -> Data {
        let reader = try GzipReader(path: url.path)
        let bytes = try reader.read(upTo: limit)
        if bytes.count == limit, !(try reader.read(upTo: 1)).isEmpty {
            throw MediaError.malformed(path: url.path, format: "gzip", expected: "at most \(limit) bytes", found: "more")
        }
        try reader.close()
        return Data(bytes)
    }
}
