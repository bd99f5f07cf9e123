import Diffusion
import Foundation
import InceptionFixture
import Models
import Testing
import TestSupport

/// The Swift FID Inception network against pytorch-fid 0.3.0 with random weights that both sides
/// generate from seeds (`python3 tools/make_inception_fixture.py`; the rule is in its docstring
/// and, per tensor, in Tests/Fixtures/inception/spec.json): the test rebuilds the 23.9 M weights
/// with `TorchGenerator` (bit-exact `torch.randn`), so no weights are committed.
/// Acceptance: relative L2 ≤ 1e-4 for pool3 features and logits (float32 against float32;
/// PyTorch's own float32-vs-float64 difference is ~3e-7, stored in the golden).
@Suite struct FIDInceptionTests {
    struct Golden: Decodable {
        struct Case: Decodable {
            var name: String
            var resize_input: Bool
            var shape: [Int]
            var pixels: [Int]
            var features: [Float]
            var logits: [Float]
            /// The images in model space, k/127.5 − 1 in Float32 (as the fixture script computes them).
            var images: [Float] { pixels.map { Float($0) / 127.5 - 1 } }
        }
        var cases: [Case]
    }

    /// The regenerated weights as an in-memory safetensors file, made once for all tests.
    static let weights: Result<SafeTensorsFile, any Error> = Result {
        try SafeTensorsFile(bytes: try RandomInceptionWeights.writer().encoded(), path: "<random FID Inception weights>")
    }

    static let network: Result<FIDInception, any Error> = Result { try FIDInception(weights: try weights.get()) }

    static let golden: Result<Golden, any Error> = Result { try Fixtures.json(Golden.self, "inception/golden.json") }

    static var longTests: Bool { ProcessInfo.processInfo.environment["SKIPSTEP_LONG_TESTS"] == "1" }

    func check(_ name: String) throws {
        let model = try Self.network.get()
        let c = try #require(try Self.golden.get().cases.first { $0.name == name })
        #expect(model.hasLogits)
        let (n, ch, h, w) = (c.shape[0], c.shape[1], c.shape[2], c.shape[3])
        let start = Date()
        let out = try model(c.images, batch: n, channels: ch, height: h, width: w, resizeInput: c.resize_input)
        let seconds = Date().timeIntervalSince(start)
        let logits = try #require(out.logits)
        let f = relativeL2(out.features, c.features), l = relativeL2(logits, c.logits)
        print("FID Inception \(name): features rel L2 \(f), logits rel L2 \(l) (\(String(format: "%.1f", seconds)) s)")
        #expect(out.features.count == n * 2048 && logits.count == n * 1008)
        #expect(f <= 1e-4 && l <= 1e-4, "\(name): features \(f), logits \(l)")
        if n == 2 {
            // The part that depends on the image (features differ by ~7% between the two images) matches too.
            let dSwift = zip(out.features[0..<2048], out.features[2048...]).map { $0 - $1 }
            let dTorch = zip(c.features[0..<2048], c.features[2048...]).map { $0 - $1 }
            #expect(relativeL2(dSwift, dTorch) <= 1e-3, "feature difference between images")
            // Chunks of one image give the same features.
            let single = try model(c.images, batch: n, channels: ch, height: h, width: w, resizeInput: c.resize_input, chunk: 1)
            #expect(relativeL2(single.features, out.features) <= 1e-6)
        }
    }

    /// The whole network (every block type, fc) on a 3×139×139 image without resizing
    /// (pytorch-fid `resize_input=False`): E blocks at 3×3, C at 7×7, A at 15×15.
    @Test func matchesPyTorchWithoutResize() throws {
        try check("rgb139_noresize")
    }

    /// pytorch-fid's full pipeline: grey 28×28 images repeated to RGB, and a 32×32 RGB image,
    /// each resized bilinearly to 299×299. 5–8 s each in a debug build on a loaded 2-core machine
    /// (the always-on test above takes ~1 s after the ~15 s of weight generation they share):
    /// SKIPSTEP_LONG_TESTS=1.
    @Test(.enabled(if: FIDInceptionTests.longTests), arguments: ["grey28", "rgb32"])
    func matchesPyTorchWithResize(name: String) throws {
        try check(name)
    }

    @Test func missingWeightsFileNamesThePathAndTheFix() throws {
        let path = "/nonexistent/skipstep/fid-inception.safetensors"
        do {
            _ = try FIDInception(contentsOf: URL(fileURLWithPath: path))
            Issue.record("expected an error")
        } catch let error as FIDInceptionError {
            #expect(error == .missingWeights(path: path, searched: [path]))
            let message = error.localizedDescription
            for part in [path, FIDInception.sourceURL, "tools/convert_inception.py"] {
                #expect(message.contains(part), "\(message)")
            }
        }
        // The search order: explicit, then $SKIPSTEP_INCEPTION_WEIGHTS, then the cache directory.
        let cache = URL(fileURLWithPath: "/nonexistent/cache")
        #expect(throws: FIDInceptionError.missingWeights(path: "/nonexistent/cache/\(FIDInception.defaultFileName)",
                                                         searched: ["/nonexistent/cache/\(FIDInception.defaultFileName)"])) {
            try FIDInception.locateWeights(nil, cacheDirectory: cache)
        }
        #expect(throws: FIDInceptionError.missingWeights(path: "/nonexistent/env.safetensors", searched: ["/nonexistent/env.safetensors"])) {
            try FIDInception.locateWeights(nil, fromEnvironment: "/nonexistent/env.safetensors", cacheDirectory: cache)
        }
        #expect(throws: FIDInceptionError.missingWeights(path: "/nonexistent/x.safetensors", searched: ["/nonexistent/x.safetensors"])) {
            try FIDInception.locateWeights("/nonexistent/x.safetensors", fromEnvironment: "/nonexistent/env.safetensors", cacheDirectory: cache)
        }
    }

    @Test func wrongFilesAreRefusedByName() throws {
        var other = SafeTensorsWriter(metadata: ["format": "skipstep-gmm-1"])
        try other.add("x", [Float](repeating: 0, count: 2), shape: [2])
        #expect(throws: FIDInceptionError.notInceptionWeights(path: "<gmm>", format: "skipstep-gmm-1")) {
            try FIDInception(weights: try SafeTensorsFile(bytes: try other.encoded(), path: "<gmm>"))
        }
        var empty = SafeTensorsWriter()
        try empty.add("fc.weight", [Float](repeating: 0, count: 2), shape: [2])
        #expect(throws: UNetLoadError.missingWeight(path: "<empty>", key: "Conv2d_1a_3x3.conv.weight", shape: [32, 3, 3, 3])) {
            try FIDInception(weights: try SafeTensorsFile(bytes: try empty.encoded(), path: "<empty>"))
        }
    }

    @Test func inputShapeIsChecked() throws {
        let model = try Self.network.get()
        #expect(throws: FIDInceptionError.self) {
            try model([Float](repeating: 0, count: 2 * 28 * 28), batch: 1, channels: 2, height: 28, width: 28)
        }
        #expect(throws: FIDInceptionError.self) {
            try model([Float](repeating: 0, count: 3 * 32 * 32), batch: 1, channels: 3, height: 32, width: 32, resizeInput: false)
        }
        var x = [Float](repeating: 0, count: 28 * 28)
        x[5] = .nan
        #expect(throws: FIDInceptionError.nonFiniteInput(index: 5)) {
            try model(x, batch: 1, channels: 1, height: 28, width: 28)
        }
    }
}
