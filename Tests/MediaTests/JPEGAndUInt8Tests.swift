import Foundation
@testable import Media
import Testing
import TestSupport

/// JPEG through libjpeg-turbo and uint8 arrays, against what Pillow and numpy wrote and decoded
/// (Tests/Fixtures/cleanfid, tools/make_cleanfid_fixtures.py).
@Suite struct JPEGAndUInt8Tests {
    static let directory = Fixtures.directory.appendingPathComponent("cleanfid")

    @Test(arguments: [("photo", 3), ("grey", 1)])
    func jpegDecodesAsPillowDoes(_ name: String, _ channels: Int) throws {
        let image = try Image8.readImage(from: Self.directory.appendingPathComponent("images/\(name).jpg"))
        let golden = try NPZArchive.read(from: Self.directory.appendingPathComponent("jpeg.npz")).imageArray(name, path: "jpeg.npz")
        #expect(golden.isUInt8)
        #expect([image.height, image.width] + (channels == 3 ? [3] : []) == golden.shape)
        #expect(image.channels == channels)
        let differing = zip(image.pixels, golden.values).filter { Float($0) != $1 }.count
        #expect(differing == 0, "\(name): \(differing) of \(image.pixels.count) pixels differ from Pillow's decode")
    }

    @Test func badJPEGsNameTheFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-jpeg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let full = try Data(contentsOf: Self.directory.appendingPathComponent("images/photo.jpg"))
        let cases: [(String, Data, String)] = [
            ("empty.jpg", Data(), "an empty file"),
            ("text.jpg", Data("hello world".utf8), "FF D8"),
            ("cut.jpg", full.prefix(full.count / 2), "libjpeg-turbo"),
        ]
        for (name, bytes, expected) in cases {
            let url = directory.appendingPathComponent(name)
            try bytes.write(to: url)
            #expect {
                try Image8.readJPEG(from: url)
            } throws: { error in
                let text = error.localizedDescription
                return text.contains(url.path) && text.contains(expected)
            }
        }
        let gif = directory.appendingPathComponent("x.gif")
        try Data([1]).write(to: gif)
        #expect(throws: MediaError.unsupported(path: gif.path, format: "image", feature: "extension '.gif' (read: .png, .jpg, .jpeg)")) {
            try Image8.readImage(from: gif)
        }
    }

    @Test func guidedDiffusionBatchesReadAsUInt8() throws {
        let batch = try NPZArchive.read(from: Self.directory.appendingPathComponent("arr0.npz")).imageArray("arr_0", path: "arr0.npz")
        #expect(batch.isUInt8 && batch.shape == [3, 8, 8, 3])
        #expect(batch.values.allSatisfy { $0 >= 0 && $0 <= 255 && $0 == $0.rounded() })
        // uint8 stays refused where floats are required, with the dtypes that are read.
        let bytes = NPYUInt8Array(shape: [2, 3], values: [0, 1, 2, 253, 254, 255]).npyData()
        #expect(throws: MediaError.unsupported(path: "x.npy", format: "NPY", feature: "dtype '|u1' (read: '<f4', '<f8')")) {
            try NPYArray.decode(bytes, path: "x.npy")
        }
        let read = try NPYImageArray.decode(bytes, path: "x.npy")
        #expect(read == NPYImageArray(shape: [2, 3], values: [0, 1, 2, 253, 254, 255], isUInt8: true))
    }

    @Test func uint8NPYBytesEqualNumpys() throws {
        // np.savez(path, arr) stores arr_0.npy exactly as np.save writes the uint8 array.
        let archive = try NPZArchive.read(from: Self.directory.appendingPathComponent("arr0.npz"))
        let member = try #require(archive.members["arr_0"])
        let array = try NPYImageArray.decode(member, path: "arr_0")
        #expect(NPYUInt8Array(shape: array.shape, values: array.values.map { UInt8($0) }).npyData() == member)
    }
}
