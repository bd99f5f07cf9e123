import CZlib
import Files
import Foundation

/// An 8-bit image: `channels` is 1 (gray) or 3 (RGB), `pixels` interleaved row by row from the
/// top-left (HWC), `width * height * channels` bytes.
public struct Image8: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var channels: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(channels == 1 || channels == 3, "Image8: channels must be 1 or 3, not \(channels)")
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * channels,
                     "Image8: \(width)×\(height)×\(channels) needs \(width * height * channels) bytes, got \(pixels.count)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }
}

private let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

// MARK: - Writing

extension Image8 {
    /// The image as a PNG: 8-bit grayscale or RGB, not interlaced, filter type 0 (none) on every
    /// row, one IDAT chunk deflated by zlib `compress2` at the default level, CRCs by zlib `crc32`.
    public func pngData() -> Data { pngData(text: []) }

    /// The PNG with text chunks after IHDR, in the given order: `tEXt` when key and value are
    /// Latin-1 (PNG's text encoding), else `iTXt` (UTF-8, uncompressed). Keys must be 1–79
    /// printable Latin-1 characters (PNG 1.2 §11.3.4.3), which the caller guarantees.
    public func pngData(text: [(key: String, value: String)]) -> Data {
        precondition(width > 0 && height > 0, "PNG needs a non-empty image, not \(width)×\(height)")
        precondition((channels == 1 || channels == 3) && pixels.count == width * height * channels,
                     "Image8: inconsistent \(width)×\(height)×\(channels) image of \(pixels.count) bytes")
        let rowLength = width * channels
        var raw = [UInt8](repeating: 0, count: height * (rowLength + 1))
        for y in 0..<height {  // each row: filter byte 0, then the row as is
            raw.replaceSubrange(y * (rowLength + 1) + 1 ..< (y + 1) * (rowLength + 1),
                                with: pixels[y * rowLength ..< (y + 1) * rowLength])
        }
        var compressedLength = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
        let status = compress2(&compressed, &compressedLength, raw, uLong(raw.count), Z_DEFAULT_COMPRESSION)
        precondition(status == Z_OK, "zlib compress2 failed with status \(status)")
        compressed.removeSubrange(Int(compressedLength)...)

        var header = Data()
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header.append(contentsOf: [8, channels == 1 ? 0 : 2, 0, 0, 0])  // depth, colour, deflate, filter, no interlace

        var png = Data(pngSignature)
        appendChunk("IHDR", header, to: &png)
        for (key, value) in text {
            precondition((1...79).contains(key.unicodeScalars.count) && key.unicodeScalars.allSatisfy { $0.value >= 32 && $0.value <= 255 && $0.value != 127 },
                         "PNG text key '\(key)' must be 1-79 printable Latin-1 characters")
            let keyBytes = key.unicodeScalars.map { UInt8($0.value) }
            if value.unicodeScalars.allSatisfy({ $0.value <= 255 && $0.value != 0 }) {
                appendChunk("tEXt", Data(keyBytes + [0] + value.unicodeScalars.map { UInt8($0.value) }), to: &png)
            } else {  // keyword, NUL, compression flag 0, method 0, empty language tag NUL, empty translated keyword NUL, UTF-8
                appendChunk("iTXt", Data(keyBytes + [0, 0, 0, 0, 0] + Array(value.utf8)), to: &png)
            }
        }
        appendChunk("IDAT", Data(compressed), to: &png)
        appendChunk("IEND", Data(), to: &png)
        return png
    }

    /// Writes `pngData()` through `AtomicFile`.
    public func writePNG(to url: URL) throws {
        try AtomicFile.write(pngData(), to: url)
    }
}

private func appendChunk(_ type: String, _ body: Data, to png: inout Data) {
    precondition(body.count <= Int(Int32.max), "PNG chunk too large")
    let typeBytes = Array(type.utf8)
    png.appendBigEndian(UInt32(body.count))
    png.append(contentsOf: typeBytes)
    png.append(body)
    png.appendBigEndian(UInt32(crc(typeBytes, body)))
}

private func crc(_ type: [UInt8], _ body: some DataProtocol) -> uLong {
    var crc = crc32(0, type, uInt(type.count))
    for region in body.regions where !region.isEmpty {
        crc = region.withUnsafeBytes { crc32(crc, $0.bindMemory(to: Bytef.self).baseAddress, uInt($0.count)) }
    }
    return crc
}

// MARK: - Reading

extension Image8 {
    /// The text chunks of a PNG in file order: `tEXt` (Latin-1) and uncompressed `iTXt` (UTF-8);
    /// compressed ones (`zTXt`, compressed `iTXt`) are skipped. The file's chunk structure is
    /// checked as far as it is walked (lengths, CRCs), not its image data.
    public static func readPNGText(from url: URL) throws -> [(key: String, value: String)] {
        let path = url.path
        let bytes = [UInt8](try readContents(of: url))
        guard bytes.starts(with: pngSignature) else {
            throw MediaError.malformed(path: path, format: "PNG", expected: "the PNG signature \(hex(pngSignature))",
                                       found: hex(bytes.prefix(8)))
        }
        var entries: [(key: String, value: String)] = []
        var offset = pngSignature.count
        while offset + 12 <= bytes.count {
            let length = (0..<4).reduce(0) { $0 << 8 | Int(bytes[offset + $1]) }
            let type = String(decoding: bytes[offset + 4 ..< offset + 8], as: UTF8.self)
            guard length <= bytes.count - offset - 12 else {
                throw MediaError.truncated(path: path, format: "PNG", expectedBytes: offset + 12 + length, foundBytes: bytes.count)
            }
            let body = Array(bytes[offset + 8 ..< offset + 8 + length])
            let stored = (0..<4).reduce(0) { $0 << 8 | Int(bytes[offset + 8 + length + $1]) }
            guard stored == Int(crc(Array(type.utf8), body)) else {
                throw MediaError.malformed(path: path, format: "PNG", expected: "a valid CRC for chunk \(type) at byte \(offset)",
                                           found: String(format: "%08X", stored))
            }
            if let nul = body.firstIndex(of: 0) {
                let key = String(body[..<nul].map { Character(Unicode.Scalar($0)) })
                if type == "tEXt" {
                    entries.append((key, String(body[(nul + 1)...].map { Character(Unicode.Scalar($0)) })))
                } else if type == "iTXt", body.count >= nul + 3, body[nul + 1] == 0,
                          let language = body[(nul + 3)...].firstIndex(of: 0),
                          let translated = body[(language + 1)...].firstIndex(of: 0) {
                    entries.append((key, String(decoding: body[(translated + 1)...], as: UTF8.self)))
                }
            }
            if type == "IEND" { break }
            offset += 12 + length
        }
        return entries
    }
}

extension Image8 {
    /// Reads a non-interlaced PNG of 8-bit gray, gray+alpha, RGB or RGBA samples, undoing all five
    /// row filters. Alpha is dropped (not composited), so the result has 1 or 3 channels. CRCs are
    /// checked; ancillary chunks are skipped. Palette images, bit depths other than 8, and Adam7
    /// interlacing are `MediaError.unsupported`.
    public static func readPNG(from url: URL) throws -> Image8 {
        try decodePNG(readContents(of: url), path: url.path)
    }

    /// Parses the bytes of a PNG file; `path` only names the file in errors.
    static func decodePNG(_ data: Data, path: String) throws -> Image8 {
        let bytes = [UInt8](data)
        func malformed(_ expected: String, _ found: String) -> MediaError {
            .malformed(path: path, format: "PNG", expected: expected, found: found)
        }
        func bigEndian32(at offset: Int) -> Int {
            (0..<4).reduce(0) { $0 << 8 | Int(bytes[offset + $1]) }
        }
        guard bytes.starts(with: pngSignature) else {
            throw malformed("the PNG signature \(hex(pngSignature))", hex(bytes.prefix(8)))
        }

        var header: PNGHeader?
        var compressed: [UInt8] = []
        var offset = pngSignature.count
        var sawEnd = false
        while !sawEnd {
            guard offset + 8 <= bytes.count else {
                if offset == bytes.count { throw malformed("an IEND chunk", "the end of the file") }
                throw MediaError.truncated(path: path, format: "PNG", expectedBytes: offset + 8, foundBytes: bytes.count)
            }
            let length = bigEndian32(at: offset)
            let typeBytes = Array(bytes[offset + 4 ..< offset + 8])
            let type = String(decoding: typeBytes, as: UTF8.self)
            guard length <= Int(Int32.max) else { throw malformed("a chunk length below 2³¹", "\(length) for \(type)") }
            let end = offset + 12 + length
            guard end <= bytes.count else {
                throw MediaError.truncated(path: path, format: "PNG", expectedBytes: end, foundBytes: bytes.count)
            }
            let body = bytes[offset + 8 ..< offset + 8 + length]
            let stored = bigEndian32(at: offset + 8 + length)
            let computed = Int(crc(typeBytes, body))
            guard stored == computed else {
                throw malformed("CRC \(String(format: "%08X", computed)) for chunk \(type) at byte \(offset)",
                                String(format: "%08X", stored))
            }
            if header == nil && type != "IHDR" { throw malformed("IHDR as the first chunk", type) }

            switch type {
            case "IHDR":
                guard header == nil else { throw malformed("one IHDR chunk", "a second one") }
                header = try PNGHeader(Array(body), path: path)
            case "IDAT":
                compressed.append(contentsOf: body)
            case "IEND":
                sawEnd = true
            case "PLTE":
                break  // a suggested palette for RGB images; palette images were refused at IHDR
            default:
                guard typeBytes[0] & 0x20 != 0 else {  // lowercase first letter: ancillary, safe to skip
                    throw MediaError.unsupported(path: path, format: "PNG", feature: "critical chunk \(type)")
                }
            }
            offset = end
        }
        guard let header else { throw malformed("an IHDR chunk", "none") }
        guard !compressed.isEmpty else { throw malformed("IDAT chunks", "none") }

        let raw = try inflate(compressed, header: header, path: path)
        return try unfilter(raw, header: header, path: path)
    }

    /// Inflates the concatenated IDAT data, which must hold exactly one filter byte and one row per
    /// image row.
    private static func inflate(_ compressed: [UInt8], header: PNGHeader, path: String) throws -> [UInt8] {
        let (rowBytes, o1) = header.width.multipliedReportingOverflow(by: header.bytesPerPixel)
        let (expected, o2) = (rowBytes + 1).multipliedReportingOverflow(by: header.height)
        // Deflate cannot expand more than 1032:1, so a header announcing more is corrupt; checking
        // this first avoids allocating for absurd sizes.
        guard !o1, !o2, expected / 1032 <= compressed.count + 1 else {
            throw MediaError.malformed(
                path: path, format: "PNG", expected: "image data for \(header.width)×\(header.height)",
                found: "only \(compressed.count) compressed bytes")
        }
        var raw = [UInt8](repeating: 0, count: expected + 1)
        var rawLength = uLongf(raw.count)
        let status = uncompress(&raw, &rawLength, compressed, uLong(compressed.count))
        guard status == Z_OK, Int(rawLength) == expected else {
            let found = switch status {
            case Z_OK: "\(rawLength) bytes"
            case Z_BUF_ERROR: "more than \(expected) bytes"
            default: "a corrupt or incomplete zlib stream (zlib status \(status))"
            }
            throw MediaError.malformed(
                path: path, format: "PNG", expected: "\(expected) bytes of filtered rows after inflating", found: found)
        }
        raw.removeLast()
        return raw
    }

    /// Undoes the per-row filters (PNG spec §9.2) and drops alpha.
    private static func unfilter(_ raw: [UInt8], header: PNGHeader, path: String) throws -> Image8 {
        let bpp = header.bytesPerPixel
        let rowBytes = header.width * bpp
        let outChannels = header.hasAlpha ? bpp - 1 : bpp
        var pixels = [UInt8](repeating: 0, count: header.width * header.height * outChannels)
        var previous = [UInt8](repeating: 0, count: rowBytes)
        var current = previous
        for y in 0..<header.height {
            let start = y * (rowBytes + 1) + 1
            let filter = raw[start - 1]
            for x in 0..<rowBytes {
                let left = x >= bpp ? current[x - bpp] : 0
                let up = previous[x]
                let upLeft = x >= bpp ? previous[x - bpp] : 0
                let predictor: UInt8
                switch filter {
                case 0: predictor = 0
                case 1: predictor = left
                case 2: predictor = up
                case 3: predictor = UInt8((Int(left) + Int(up)) / 2)
                case 4: predictor = paeth(left, up, upLeft)
                default:
                    throw MediaError.malformed(path: path, format: "PNG", expected: "row filter type 0…4",
                                               found: "\(filter) on row \(y)")
                }
                current[x] = raw[start + x] &+ predictor
            }
            var out = y * header.width * outChannels
            for pixel in stride(from: 0, to: rowBytes, by: bpp) {
                for c in 0..<outChannels { pixels[out + c] = current[pixel + c] }
                out += outChannels
            }
            swap(&previous, &current)
        }
        return Image8(width: header.width, height: header.height, channels: outChannels, pixels: pixels)
    }

    private static func paeth(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> UInt8 {
        let p = Int(a) + Int(b) - Int(c)
        let pa = abs(p - Int(a)), pb = abs(p - Int(b)), pc = abs(p - Int(c))
        if pa <= pb && pa <= pc { return a }
        return pb <= pc ? b : c
    }
}

/// The IHDR fields this reader supports.
private struct PNGHeader {
    var width: Int
    var height: Int
    var bytesPerPixel: Int
    var hasAlpha: Bool

    init(_ body: [UInt8], path: String) throws {
        func malformed(_ expected: String, _ found: String) -> MediaError {
            .malformed(path: path, format: "PNG", expected: expected, found: found)
        }
        func unsupported(_ feature: String) -> MediaError {
            .unsupported(path: path, format: "PNG", feature: feature)
        }
        guard body.count == 13 else { throw malformed("a 13-byte IHDR chunk", "\(body.count) bytes") }
        width = (0..<4).reduce(0) { $0 << 8 | Int(body[$1]) }
        height = (4..<8).reduce(0) { $0 << 8 | Int(body[$1]) }
        let (depth, colour, compression, filter, interlace) = (body[8], body[9], body[10], body[11], body[12])
        guard (1...Int(Int32.max)).contains(width), (1...Int(Int32.max)).contains(height) else {
            throw malformed("width and height in 1…2³¹−1", "\(width)×\(height)")
        }
        guard compression == 0, filter == 0 else {
            throw malformed("compression method 0 and filter method 0", "\(compression) and \(filter)")
        }
        switch colour {
        case 0: (bytesPerPixel, hasAlpha) = (1, false)
        case 2: (bytesPerPixel, hasAlpha) = (3, false)
        case 4: (bytesPerPixel, hasAlpha) = (2, true)
        case 6: (bytesPerPixel, hasAlpha) = (4, true)
        case 3: throw unsupported("palette colour (colour type 3); read: 8-bit gray, gray+alpha, RGB, RGBA")
        default: throw malformed("colour type 0, 2, 3, 4 or 6", "\(colour)")
        }
        guard depth == 8 else {
            throw unsupported("\(depth)-bit samples; only 8-bit samples are read")
        }
        switch interlace {
        case 0: break
        case 1: throw unsupported("Adam7 interlacing; only non-interlaced images are read")
        default: throw malformed("interlace method 0 or 1", "\(interlace)")
        }
    }
}
