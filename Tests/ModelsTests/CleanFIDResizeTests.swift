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

extension CleanFIDResizeTests {
    /// The clean preprocessing is clean-fid's resize (checked above), its clip and its (x − 128)/128,
    /// then the same network: the same features as the network fed that 299×299 input directly,
    /// up to the last bits of pytorch-fid's (x + 1)/2 · 2 − 1 round trip on the direct path. Grey
    /// images are repeated to three channels as clean-fid's `convert("RGB")` does.
    /// ~20 s in a debug build (random weights, two 299×299 forwards): SKIPSTEP_LONG_TESTS=1.
    @Test(.enabled(if: FIDInceptionTests.longTests)) func cleanInceptionIsResizeClipNormaliseThenTheNetwork() throws {
        let weights = try FIDInceptionTests.weights.get()
        let clean = try FIDInception(weights: weights, preprocessing: .clean)
        let legacy = try FIDInceptionTests.network.get()
        #expect(clean.inputScale == .pixels && legacy.inputScale == .modelSpace)
        let (rgb, h, w) = try Self.rgbPlanes("rgb17x23")
        let grey = try Self.rgbPlanes("grey28")
        for (pixels, channels, height, width) in [(rgb, 3, h, w), (Array(grey.values.prefix(28 * 28)), 1, 28, 28)] {
            let out = try clean(pixels, batch: 1, channels: channels, height: height, width: width)
            let resized = Kernels.resizeBicubicPIL(pixels, planes: channels, height: height, width: width, outHeight: 299, outWidth: 299)
            let plane = resized.map { (min(max($0, 0), 255) - 128) / 128 }
            let direct = try legacy(channels == 1 ? plane + plane + plane : plane, batch: 1, channels: 3, height: 299, width: 299,
                                    resizeInput: false)
            let error = relativeL2(out.features, direct.features)
            #expect(error <= 1e-5, "\(channels) channels: features differ by \(error)")
            // The legacy convention on the same image is another number (bilinear, no clip).
            let viaLegacy = try legacy(pixels.map { $0 / 127.5 - 1 }, batch: 1, channels: channels, height: height, width: width)
            #expect(relativeL2(out.features, viaLegacy.features) > 1e-3)
        }
    }
}
