import CTurboJPEG
import Foundation

extension Image8 {
    /// Decodes a baseline or progressive JPEG with libjpeg-turbo's TurboJPEG API (Debian
    /// libturbojpeg0-dev), with its defaults: the accurate integer IDCT and smooth ("fancy")
    /// chroma upsampling, as Pillow's decoder uses them. Greyscale files give 1 channel, colour
    /// files (YCbCr or RGB) 3. CMYK/YCCK files are refused. Any decoder error or warning (a
    /// truncated or corrupt file) is a `MediaError` naming the file.
    public static func readJPEG(from url: URL) throws -> Image8 {
        try decodeJPEG(readContents(of: url), path: url.path)
    }

    /// Decodes the bytes of a JPEG file; `path` only names the file in errors.
    static func decodeJPEG(_ data: Data, path: String) throws -> Image8 {
        guard let handle = tjInitDecompress() else {
            throw MediaError.unreadable(path: path, reason: "libjpeg-turbo could not start a decoder")
        }
        defer { tjDestroy(handle) }
        func failure() -> MediaError {
            let text = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
            return .malformed(path: path, format: "JPEG", expected: "a JPEG image libjpeg-turbo decodes",
                              found: "libjpeg-turbo: \(text)")
        }
        guard data.count >= 4, data.prefix(2) == Data([0xFF, 0xD8]) else {
            throw MediaError.malformed(path: path, format: "JPEG", expected: "the start-of-image marker FF D8",
                                       found: data.isEmpty ? "an empty file" : "\(data.count) bytes starting "
                                        + data.prefix(4).map { String(format: "%02X", $0) }.joined(separator: " "))
        }
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = data.withUnsafeBytes { raw in
            tjDecompressHeader3(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count),
                                &width, &height, &subsampling, &colorspace)
        }
        guard header == 0 else { throw failure() }
        let channels: Int, format: TJPF
        switch colorspace {
        case Int32(TJCS_GRAY.rawValue): (channels, format) = (1, TJPF_GRAY)
        case Int32(TJCS_RGB.rawValue), Int32(TJCS_YCbCr.rawValue): (channels, format) = (3, TJPF_RGB)
        default:
            throw MediaError.unsupported(path: path, format: "JPEG",
                                         feature: "CMYK/YCCK colour (read: greyscale, YCbCr and RGB JPEGs)")
        }
        guard width > 0, height > 0 else {
            throw MediaError.malformed(path: path, format: "JPEG", expected: "a positive size", found: "\(width)×\(height)")
        }
        let (w, h) = (Int(width), Int(height))
        let (count, overflow) = (w * channels).multipliedReportingOverflow(by: h)
        guard !overflow, count < 1 << 31 else {
            throw MediaError.unsupported(path: path, format: "JPEG", feature: "a \(w)×\(h) image (too large)")
        }
        var pixels = [UInt8](repeating: 0, count: count)
        let status = data.withUnsafeBytes { raw in
            pixels.withUnsafeMutableBufferPointer { out in
                tjDecompress2(handle, raw.bindMemory(to: UInt8.self).baseAddress, UInt(raw.count), out.baseAddress,
                              width, Int32(w * channels), height, Int32(format.rawValue), 0)
            }
        }
        guard status == 0 else { throw failure() }
        return Image8(width: w, height: h, channels: channels, pixels: pixels)
    }

    /// A PNG or JPEG file, chosen by its extension (.png; .jpg or .jpeg, any case).
    public static func readImage(from url: URL) throws -> Image8 {
        switch url.pathExtension.lowercased() {
        case "png": return try readPNG(from: url)
        case "jpg", "jpeg": return try readJPEG(from: url)
        default:
            throw MediaError.unsupported(path: url.path, format: "image",
                                         feature: "extension '.\(url.pathExtension)' (read: .png, .jpg, .jpeg)")
        }
    }

    /// Whether `name` ends in an extension `readImage` reads.
    public static func isReadableImageName(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.hasSuffix(".png") || lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg")
    }
}
