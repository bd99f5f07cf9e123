import Foundation
import Testing
@testable import Media

@Suite struct ImageConversionTests {
    /// tools/make_media_fixtures.py ran diffusers' DDPMPipeline post-processing and numpy_to_pil
    /// on these values, 20 of which land exactly on k + 0.5 with k even (ties to even ≠ half-up).
    @Test func matchesDiffusersNumpyToPil() throws {
        let input = try NPYArray.read(from: mediaFixture("model_space/input.npy"))
        let expected = [UInt8](try Data(contentsOf: mediaFixture("model_space/expected.u8")))
        #expect(input.shape == [3, 5, 7])
        let image = Image8.fromModelSpace(input.values, channels: 3, height: 5, width: 7)
        #expect(image.width == 7 && image.height == 5 && image.channels == 3)
        #expect(image.pixels == expected)
    }

    @Test(arguments: [
        (Float(-1), UInt8(0)), (1, 255), (0, 128), (-0.0, 128), (-3, 0), (3, 255),
        (.infinity, 255), (-.infinity, 0), (.nan, 0), (0.5, 191),
    ])
    func pixelValues(x: Float, expected: UInt8) {
        #expect(Image8.pixelValue(fromModelSpace: x) == expected)
    }

    @Test func interleavesPlanarChannelsAndAcceptsSlices() {
        // Channel planes of a 1×2 image: R = (−1, 1), G = (0, 0), B = (1, −1).
        let planes: [Float] = [99, -1, 1, 0, 0, 1, -1, 99]
        let image = Image8.fromModelSpace(planes[1..<7], channels: 3, height: 1, width: 2)
        #expect(image.pixels == [0, 128, 255, 255, 128, 0])
        #expect(Image8.fromModelSpace([-1, 1], channels: 1, height: 2, width: 1).pixels == [0, 255])
    }

    @Test func gridLaysOutLikeMakeGrid() {
        let tiles = (1...5).map { Image8(width: 3, height: 2, channels: 1, pixels: [UInt8](repeating: UInt8($0), count: 6)) }
        let grid = Image8.grid(tiles, padding: 1, background: 9)  // ⌈√5⌉ = 3 columns, 2 rows
        #expect(grid.width == 3 * (3 + 1) + 1 && grid.height == 2 * (2 + 1) + 1)
        func pixel(_ x: Int, _ y: Int) -> UInt8 { grid.pixels[y * grid.width + x] }
        #expect(pixel(0, 0) == 9 && pixel(1, 1) == 1 && pixel(3, 2) == 1 && pixel(4, 1) == 9)
        #expect(pixel(5, 1) == 2 && pixel(9, 2) == 3 && pixel(1, 4) == 4 && pixel(5, 5) == 5)
        #expect(pixel(9, 4) == 9)  // the empty sixth cell
        #expect(grid.pixels.filter { $0 == 9 }.count == grid.width * grid.height - 5 * 6)
    }

    @Test func gridDefaultsAndCaps() {
        let rgb = Image8(width: 2, height: 2, channels: 3, pixels: [UInt8](repeating: 200, count: 12))
        let single = Image8.grid([rgb])
        #expect(single.width == 6 && single.height == 6 && single.channels == 3)
        let row = Image8.grid([rgb, rgb], columns: 8, padding: 0)
        #expect(row.width == 4 && row.height == 2 && row.pixels.allSatisfy { $0 == 200 })
        #expect(Image8.grid(Array(repeating: rgb, count: 10)).width == 4 * (2 + 2) + 2)
    }
}
