import Foundation
import Testing
@testable import Media

@Suite struct PNGTests {
    static func pattern(width: Int, height: Int, channels: Int) -> Image8 {
        let pixels = (0..<width * height * channels).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ $0 / 7) }
        return Image8(width: width, height: height, channels: channels, pixels: pixels)
    }

    @Test(arguments: [(1, 1, 1), (13, 5, 1), (7, 9, 3), (64, 3, 3)])
    func roundTrips(width: Int, height: Int, channels: Int) throws {
        let image = Self.pattern(width: width, height: height, channels: channels)
        #expect(try Image8.decodePNG(image.pngData(), path: "memory") == image)
    }

    @Test func roundTripsThroughAFile() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("image.png")
        let image = Self.pattern(width: 10, height: 4, channels: 3)
        try image.writePNG(to: url)
        #expect(try Image8.readPNG(from: url) == image)
        #expect(try Data(contentsOf: url).prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
    }

    /// Pillow's encoder picks a filter per row (tools/make_media_fixtures.py prints which);
    /// the filters_* files use types 0, 1, 2, 3, 4 in turn, row by row.
    @Test(arguments: [
        ("pillow_gray", 37, 23, 1), ("pillow_rgb", 37, 23, 3), ("pillow_la", 37, 23, 1), ("pillow_rgba", 37, 23, 3),
        ("filters_gray", 9, 11, 1), ("filters_rgb", 9, 11, 3), ("filters_la", 9, 11, 1), ("filters_rgba", 9, 11, 3),
    ])
    func readsFixtures(name: String, width: Int, height: Int, channels: Int) throws {
        let image = try Image8.readPNG(from: mediaFixture("png/\(name).png"))
        let expected = [UInt8](try Data(contentsOf: mediaFixture("png/\(name).u8")))
        #expect(image.width == width && image.height == height && image.channels == channels)
        #expect(image.pixels == expected)
    }

    @Test(arguments: [
        ("palette", "palette colour"),
        ("gray16", "16-bit samples"),
        ("interlaced", "Adam7 interlacing"),
    ])
    func refusesUnsupportedPNGs(name: String, feature: String) {
        let url = mediaFixture("png/\(name).png")
        let error = #expect(throws: MediaError.self) { try Image8.readPNG(from: url) }
        #expect(error?.kind == "unsupported")
        #expect(error?.message.contains(url.path) == true)
        #expect(error?.message.contains(feature) == true, "\(error?.message ?? "")")
    }

    /// Damaged copies of a 6×4 RGB PNG written by `pngData()`.
    @Test(arguments: [
        ("not a PNG", "malformed", "PNG signature"),
        ("flipped data byte", "malformed", "CRC"),
        ("cut in a chunk", "truncated", "truncated PNG file"),
        ("no IEND", "malformed", "expected an IEND chunk, found the end of the file"),
        ("bad filter type", "malformed", "row filter type 0…4, found 7 on row 0"),
        ("too little image data", "malformed", "expected 76 bytes of filtered rows"),
        ("zero width", "malformed", "width and height in 1…2³¹−1, found 0×4"),
        ("huge size, tiny data", "malformed", "only"),
    ])
    func reportsDamagedFiles(damage: String, kind: String, detail: String) throws {
        let image = Self.pattern(width: 6, height: 4, channels: 3)
        var bytes = [UInt8](image.pngData())
        let idat = 8 + 25  // signature, IHDR chunk
        switch damage {
        case "not a PNG": bytes[1] = UInt8(ascii: "J")
        case "flipped data byte": bytes[idat + 10] ^= 0x40
        case "cut in a chunk": bytes.removeLast(20)
        case "no IEND": bytes.removeLast(12)
        case "bad filter type": bytes = rebuilt(raw: [7] + [UInt8](repeating: 0, count: 75), width: 6, height: 4)
        case "too little image data": bytes = rebuilt(raw: [UInt8](repeating: 0, count: 50), width: 6, height: 4)
        case "zero width": bytes = rebuilt(raw: [0], width: 0, height: 4)
        case "huge size, tiny data": bytes = rebuilt(raw: [0], width: Int(Int32.max), height: Int(Int32.max))
        default: Issue.record("unknown damage \(damage)")
        }
        let error = #expect(throws: MediaError.self) { try Image8.decodePNG(Data(bytes), path: "damaged.png") }
        #expect(error?.kind == kind, "\(error?.message ?? "")")
        #expect(error?.message.contains("damaged.png") == true)
        #expect(error?.message.contains(detail) == true, "\(error?.message ?? "")")
    }

    /// An RGB PNG with valid chunks and CRCs around arbitrary filtered row data (`raw`, stored
    /// uncompressed), for damage that `pngData()` cannot produce.
    private func rebuilt(raw: [UInt8], width: Int, height: Int) -> [UInt8] {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = [UInt8]()
        for value in [width, height] { header += withUnsafeBytes(of: UInt32(value).bigEndian, Array.init) }
        header += [8, 2, 0, 0, 0]
        png += chunk("IHDR", header)
        png += chunk("IDAT", zlibStored(raw))
        png += chunk("IEND", [])
        return png
    }
}

/// A zlib stream holding `data` in one stored (uncompressed) deflate block (RFC 1950/1951).
func zlibStored(_ data: [UInt8]) -> [UInt8] {
    precondition(data.count < 65536)
    let length = UInt16(data.count)
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in data { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
    return [0x78, 0x01, 0x01, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
        + data + withUnsafeBytes(of: (b << 16 | a).bigEndian, Array.init)
}

/// A PNG chunk with its CRC-32 (ISO 3309, computed bitwise here, independently of zlib).
func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
    let typed = Array(type.utf8) + body
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in typed {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    crc ^= 0xFFFF_FFFF
    return withUnsafeBytes(of: UInt32(body.count).bigEndian, Array.init) + typed
        + withUnsafeBytes(of: crc.bigEndian, Array.init)
}
