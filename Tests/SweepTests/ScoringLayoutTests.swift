import Diffusion
import Foundation
import Media
import Metrics
import Sweep
import Testing
import TestSupport

/// Every image layout `eval` and `sweep` accept gives the same values; every refused one names
/// the accepted layouts. The images are guided-diffusion's batch in Tests/Fixtures/cleanfid
/// (arr0.npz, 3×8×8×3 uint8, written by numpy) and their N×C×H×W float32 form (arr0_nchw.npy).
@Suite struct ScoringLayoutTests {
    static let fixtures = Fixtures.directory.appendingPathComponent("cleanfid")

    static func workspace() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-layouts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The batch as uint8 N×H×W×C.
    static func pixels() throws -> [UInt8] {
        try NPZArchive.read(from: fixtures.appendingPathComponent("arr0.npz")).imageArray("arr_0", path: "arr0.npz")
            .values.map { UInt8($0) }
    }

    static func nchw<T>(_ nhwc: [T]) -> [T] {
        var out = nhwc
        for i in 0..<3 { for y in 0..<8 { for x in 0..<8 { for c in 0..<3 {
            out[i * 192 + c * 64 + y * 8 + x] = nhwc[i * 192 + (y * 8 + x) * 3 + c]
        } } } }
        return out
    }

    @Test func everyAcceptedLayoutGivesTheSameImages() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let nhwc = try Self.pixels(), planar = Self.nchw(nhwc)
        let expected = try NPYArray.read(from: Self.fixtures.appendingPathComponent("arr0_nchw.npy")).values
        #expect(expected == planar.map { Float($0) / 127.5 - 1 })
        func file(_ name: String, _ data: Data) throws -> String {
            let url = dir.appendingPathComponent(name)
            try data.write(to: url)
            return url.path
        }
        let modelNHWC = nhwc.map { Float($0) / 127.5 - 1 }
        let pngs = dir.appendingPathComponent("pngs")
        try FileManager.default.createDirectory(at: pngs, withIntermediateDirectories: true)
        for i in 0..<3 {
            try Image8(width: 8, height: 8, channels: 3, pixels: Array(nhwc[(i * 192)..<((i + 1) * 192)]))
                .writePNG(to: pngs.appendingPathComponent("s\(i).png"))
        }
        let sources: [(String, String, Scoring.ImageOptions.Range)] = [
            ("arr_0 .npz (guided-diffusion, NHWC uint8)", Self.fixtures.appendingPathComponent("arr0.npz").path, .minusOneToOne),
            ("NCHW float32 in [-1, 1]", Self.fixtures.appendingPathComponent("arr0_nchw.npy").path, .minusOneToOne),
            ("NHWC float32 in [-1, 1]", try file("nhwc.npy", NPYArray(shape: [3, 8, 8, 3], values: modelNHWC).npyData()), .minusOneToOne),
            ("NCHW float64 in [-1, 1]", try file("f8.npy", NPYDoubleArray(shape: [3, 3, 8, 8], values: expected.map(Double.init)).npyData()),
             .minusOneToOne),
            ("NCHW uint8", try file("u8.npy", NPYUInt8Array(shape: [3, 3, 8, 8], values: planar).npyData()), .minusOneToOne),
            ("NHWC uint8", try file("u8hwc.npy", NPYUInt8Array(shape: [3, 8, 8, 3], values: nhwc).npyData()), .minusOneToOne),
            ("NCHW float32 in [0, 1]", try file("unit.npy", NPYArray(shape: [3, 3, 8, 8], values: planar.map { Float($0) / 255 }).npyData()),
             .zeroToOne),
            ("PNG folder", pngs.path, .minusOneToOne),
        ]
        for (what, path, range) in sources {
            for scale in [ImageScale.modelSpace, .pixels] {
                let (values, shape) = try Scoring.images(path, shape: nil, options: .init(range: range, scale: scale))
                #expect(shape == [3, 8, 8], "\(what)")
                let want = scale == .modelSpace ? expected : planar.map { Float($0) }
                #expect(values == want, "\(what), \(scale): \(zip(values, want).filter { $0 != $1 }.count) values differ")
            }
        }
        // N×H×W: grey.
        let grey = try file("grey.npy", NPYUInt8Array(shape: [3, 8, 8], values: Array(planar.prefix(192))).npyData())
        let (greyValues, greyShape) = try Scoring.images(grey, shape: [1, 8, 8], options: .init(scale: .pixels))
        #expect(greyShape == [1, 8, 8] && greyValues == planar.prefix(192).map { Float($0) })
        // A JPEG folder.
        let jpegs = dir.appendingPathComponent("jpegs")
        try FileManager.default.createDirectory(at: jpegs, withIntermediateDirectories: true)
        for name in ["a.jpg", "b.JPEG"] {
            try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("images/photo.jpg"), to: jpegs.appendingPathComponent(name))
        }
        let decoded = try NPZArchive.read(from: Self.fixtures.appendingPathComponent("jpeg.npz")).imageArray("photo", path: "jpeg.npz")
        let (jpegValues, jpegShape) = try Scoring.images(jpegs.path, shape: nil, options: .init(scale: .pixels))
        #expect(jpegShape == [3, 20, 24])
        #expect(Array(jpegValues.prefix(1440)) == Self.nchwAny(decoded.values, h: 20, w: 24))
    }

    static func nchwAny(_ hwc: [Float], h: Int, w: Int) -> [Float] {
        var out = hwc
        for p in 0..<(h * w) { for c in 0..<3 { out[c * h * w + p] = hwc[p * 3 + c] } }
        return out
    }

    @Test func floatsAreQuantisedAsAPNGWouldBeUnlessToldNot() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        var source = RandomKind.philox.makeSource(seed: 4)
        let floats = source.standardNormal(count: 2 * 3 * 4 * 5).map { $0 * 0.7 }
        let npy = dir.appendingPathComponent("s.npy")
        try NPYArray(shape: [2, 3, 4, 5], values: floats).write(to: npy)
        let quantised = try Scoring.images(npy.path, shape: nil).values
        let viaPNG = (0..<2).flatMap { i in
            let image = Image8.fromModelSpace(Array(floats[(i * 60)..<((i + 1) * 60)]), channels: 3, height: 4, width: 5)
            return Self.nchwAny(image.pixels.map { Float($0) }, h: 4, w: 5).map { $0 / 127.5 - 1 }
        }
        #expect(quantised == viaPNG)
        let raw = try Scoring.images(npy.path, shape: nil, options: .init(quantize: false)).values
        #expect(raw == floats)
        #expect(raw != quantised)
    }

    @Test func refusedLayoutsNameTheAcceptedOnes() throws {
        let dir = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        func npy(_ name: String, _ shape: [Int]) throws -> String {
            let url = dir.appendingPathComponent(name)
            try NPYArray(shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *))).write(to: url)
            return url.path
        }
        let cases: [(String, [Int]?, String)] = [
            (try npy("five.npy", [2, 5, 6, 7]), nil, "shape [2, 5, 6, 7] (float) is not an image batch"),
            (try npy("flat.npy", [4, 784]), nil, "shape [4, 784] (float) is not an image batch"),
            (try npy("deep.npy", [2, 1, 3, 4, 4]), nil, "is not an image batch"),
            (try npy("small.npy", [2, 1, 8, 8]), [1, 28, 28], "holds no 1×28×28 images, which the network needs"),
        ]
        for (path, required, expected) in cases {
            #expect {
                try Scoring.images(path, shape: required)
            } throws: { error in
                let text = error.localizedDescription
                return text.contains(path) && text.contains(expected) && text.contains("accepted: " + Scoring.acceptedLayouts)
            }
        }
        let stray = dir.appendingPathComponent("stray.npz")
        try NPZArchive(members: ["images": NPYArray(shape: [1], values: [0]).npyData()]).write(to: stray)
        #expect {
            try Scoring.images(stray.path, shape: nil)
        } throws: { error in
            error.localizedDescription.contains("arr_0") && error.localizedDescription.contains("[\"images\"]")
        }
        #expect(throws: Scoring.Failure.self) { try Scoring.isStatisticsFile(stray.path) }
    }
}

/// A sweep cell is scored on quantised samples when its spec says so, on raw floats otherwise
/// (sweep.json without "quantize": the sweeps made before the option).
@Suite struct SweepQuantisationTests {
    /// Features = the images themselves (in the scale asked for), so the test sees what was scored.
    struct Identity: FeatureNetwork {
        var scale: ImageScale
        var featureDescription: String { "identity" }
        var requiredShape: [Int]? { [1, 2, 2] }
        var featureDimension: Int { 4 }
        var logitDimension: Int? { nil }
        var chunk: Int { 100 }
        var inputScale: ImageScale { scale }
        func features(of x: [Float], batch: Int, shape: [Int]) throws -> (features: [Float], logits: [Float]?) { (x, nil) }
    }

    struct Constant: Denoiser {
        var sampleShape: [Int] { [1, 2, 2] }
        var predictionType: PredictionType { .epsilon }
        func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float] { x.map { _ in 0 } }
    }

    @Test(arguments: [(nil, ImageScale.modelSpace), (true, .modelSpace), (true, .pixels), (nil, .pixels)] as [(Bool?, ImageScale)])
    func cellsAreScoredAsTheSpecSays(quantize: Bool?, scale: ImageScale) throws {
        let spec = SweepSpec(model: "m", samplers: ["skip"], steps: [2], cutoffs: [], count: 2, metrics: ["fid"], quantize: quantize)
        let model = LoadedModel(name: "m", denoiser: Constant(), schedule: try NoiseSchedule(.linear()), defaults: SamplerOptions())
        let network = Identity(scale: scale)
        let referenceValues: [Float] = [0, 0.5, -0.5, 1, 0.25, 0, 0.75, -1, -0.3, 0.1, 0.2, 0.9]
        let reference = try network.embed(referenceValues, shape: [1, 2, 2], name: "reference")
        let evaluator = try SweepEvaluator(spec: spec, model: model, network: network, reference: reference)
        let samples: [Float] = [0.1234, -0.777, 0.5, 1.3, -0.01, 0.333, -0.999, 0.6]
        let scored = try evaluator.evaluate(samples, count: 2)["fid"]
        let options = Scoring.ImageOptions(quantize: quantize == true, scale: scale)
        let expectedValues = try Scoring.images(NPYImageArray(shape: [2, 1, 2, 2], values: samples, isUInt8: false), source: "s",
                                                shape: [1, 2, 2], options: options).values
        if quantize == true { #expect(expectedValues.map { scale == .pixels ? $0 : ($0 + 1) * 127.5 }.allSatisfy { abs($0 - $0.rounded()) < 1e-3 }) }
        else if scale == .modelSpace { #expect(expectedValues == samples) }
        let expected = try MetricSuite([.fid]).evaluate(samples: network.embed(expectedValues, shape: [1, 2, 2], name: "s"),
                                                        reference: reference).values["fid"]
        #expect(scored != nil && scored == expected)
    }
}
