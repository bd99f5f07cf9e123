import Foundation
import Media
import Models
import Tensor
import Testing
import TestSupport

/// clean-fid's "clean" resize (Pillow's bicubic in mode 'F', per channel, clipped to [0, 255])
/// against clean-fid 0.1.35 itself: Tests/Fixtures/cleanfid/resize.npz, written by
/// tools/make_cleanfid_fixtures.py (Pillow 13.0.0).
@Suite struct CleanFIDResizeTests {
    static let directory = Fixtures.directory.appendingPathComponent("cleanfid")

    /// The fixture PNG as clean-fid reads it (`convert("RGB")`): 3 planes of pixel values.
    static func rgbPlanes(_ name: String) throws -> (values: [Float], height: Int, width: Int) {
        let image = try Image8.readPNG(from: directory.appendingPathComponent("images/\(name).png"))
        let plane = image.width * image.height
        var values = [Float](repeating: 0, count: 3 * plane)
        for i in 0..<plane {
            for c in 0..<3 { values[c * plane + i] = Float(image.pixels[i * image.channels + (image.channels == 1 ? 0 : c)]) }
        }
        return (values, image.height, image.width)
    }

    @Test(arguments: ["grey28", "rgb32", "rgb17x23", "rgb310x305"])
    func resizeEqualsCleanFID(_ name: String) throws {
        let golden = try NPZArchive.read(from: Self.directory.appendingPathComponent("resize.npz"))
        let expected = try golden.imageArray(name, path: "resize.npz")
        let expectedSum = try golden.doubleArray("\(name)_sum", path: "resize.npz").values[0]
        #expect(expected.shape == [60, 60, 3])
        let (input, h, w) = try Self.rgbPlanes(name)
        let resized = Kernels.resizeBicubicPIL(input, planes: 3, height: h, width: w, outHeight: 299, outWidth: 299)
            .map { min(max($0, 0), 255) }
        var mismatches = 0, worst: Float = 0
        for y in 0..<60 {
            for x in 0..<60 {
                for c in 0..<3 {
                    let ours = resized[c * 299 * 299 + (5 * y) * 299 + 5 * x]
                    let theirs = expected.values[(y * 60 + x) * 3 + c]
                    if ours.bitPattern != theirs.bitPattern { mismatches += 1; worst = max(worst, abs(ours - theirs)) }
                }
            }
        }
        // Bit for bit: the same Double arithmetic as Resample.c, in the same order.
        #expect(mismatches == 0, "\(name): \(mismatches) of 10800 sampled values differ (worst by \(worst))")
        let sum = resized.reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - expectedSum) <= 1e-9 * abs(expectedSum), "\(name): sum \(sum) vs clean-fid \(expectedSum)")
    }

    @Test func equalSizesAreCopied() {
        let x: [Float] = (0..<(2 * 5 * 4)).map { Float($0) * 1.5 - 7 }
        #expect(Kernels.resizeBicubicPIL(x, planes: 2, height: 5, width: 4, outHeight: 5, outWidth: 4) == x)
    }
}
