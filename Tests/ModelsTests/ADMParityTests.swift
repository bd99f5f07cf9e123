import Diffusion
import Foundation
import Models
import Tensor
import Testing
import TestSupport

/// The Swift ADM UNet against guided-diffusion @22e0df8's `UNetModel` (Tests/Fixtures/adm, made
/// by tools/make_adm_fixtures.py): configs A–D of issue 19 with hashed weights.
@Suite struct ADMParityTests {
    struct Blob: Decodable { var offset: Int; var count: Int; var shape: [Int] }
    struct Case: Decodable { var name: String; var batch: Int; var timesteps: [Double]; var labels: [Int]; var input: Blob; var output: Blob }
    struct Goldens: Decodable { var cases: [Case]; var parameter_count: Int }

    static func floats(_ data: Data, _ t: Blob) -> [Float] {
        data.withUnsafeBytes { raw in
            (0..<t.count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: t.offset + 4 * $0, as: UInt32.self))) }
        }
    }

    static func config(_ name: String) throws -> ADMConfig {
        try Fixtures.json(ADMConfig.self, "adm/\(name)/adm_config.json")
    }

    /// Every fixture's weights, hashed once.
    static let weights: [String: [String: (shape: [Int], values: [Float])]] = Dictionary(
        uniqueKeysWithValues: ["A", "B", "C", "D"].map { ($0, (try? HashedWeights.tensors("adm/\($0)/keys.json")) ?? [:]) })

    static func model(_ name: String, config: ADMConfig? = nil) throws -> ADMUNet {
        try ADMUNet(config: config ?? Self.config(name), weights: InMemoryWeights(name: "adm/\(name)", weights[name]!))
    }

    /// The worst relative L2 over the fixture's cases (the first `cases` of them).
    static func worstError(_ name: String, _ model: ADMUNet, cases: Int = .max) throws -> Double {
        let goldens = try Fixtures.json(Goldens.self, "adm/\(name)/goldens.json")
        let data = try Data(contentsOf: Fixtures.url("adm/\(name)/goldens.bin"))
        var worst = 0.0
        for c in goldens.cases.prefix(cases) {
            let shape = c.input.shape
            let out = try model(Self.floats(data, c.input), batch: c.batch, height: shape[2], width: shape[3],
                                timesteps: c.timesteps, classLabels: model.classCount == nil ? nil : c.labels)
            let expected = Self.floats(data, c.output)
            #expect(expected.contains { abs($0) > 0.1 }, "\(name) \(c.name): the golden is trivially small")
            worst = max(worst, relativeL2(out, expected))
        }
        return worst
    }

    /// Slow in a debug build: by default A–C on their batch-3 case (t = 0, 500, 123.5); with
    /// SKIPSTEP_LONG_TESTS=1 (CI) every case (t = 999 and 1 at batch 1 too) and the 64 px config D.
    static var longTests: Bool { ProcessInfo.processInfo.environment["SKIPSTEP_LONG_TESTS"] == "1" }

    @Test(arguments: ["A", "B", "C", "D"])
    func forwardMatchesGuidedDiffusion(name: String) throws {
        guard name != "D" || Self.longTests else { return }
        let model = try Self.model(name)
        let goldens = try Fixtures.json(Goldens.self, "adm/\(name)/goldens.json")
        #expect(model.parameterCount == goldens.parameter_count)
        let error = try Self.worstError(name, model, cases: Self.longTests ? .max : 1)
        print("ADM config \(name): relative L2 \(error) against guided-diffusion")
        #expect(error <= 1e-4, "config \(name): relative L2 \(error)")
    }

    /// Neither the head count nor the qkv order can be read from the weights: the other order
    /// must give a different network (A is legacy, B the new order).
    @Test(arguments: ["A", "B"])
    func theOtherQKVOrderFails(name: String) throws {
        guard name == "B" || Self.longTests else { return }
        var config = try Self.config(name)
        config.useNewAttentionOrder.toggle()
        let error = try Self.worstError(name, try Self.model(name, config: config), cases: 1)
        #expect(error > 1e-2, "config \(name) with the other qkv order: relative L2 \(error)")
    }

    @Test func strictBindingNamesTheKey() throws {
        var tensors = Self.weights["A"]!
        let config = try Self.config("A")
        tensors["extra.weight"] = ([1], [0])
        #expect(throws: UNetLoadError.unusedWeights(path: "x", keys: ["extra.weight"])) {
            try ADMUNet(config: config, weights: InMemoryWeights(name: "x", tensors))
        }
        tensors["extra.weight"] = nil
        tensors["middle_block.1.qkv.weight"] = nil
        #expect(throws: UNetLoadError.missingWeight(path: "x", key: "middle_block.1.qkv.weight", shape: [192, 64, 1])) {
            try ADMUNet(config: config, weights: InMemoryWeights(name: "x", tensors))
        }
    }

    @Test func channelMultIsResolvedByImageSize() throws {
        var config = ADMConfig()
        for (size, mult) in [(64, [1.0, 2, 3, 4]), (128, [1, 1, 2, 3, 4]), (256, [1, 1, 2, 2, 4, 4]), (512, [0.5, 1, 1, 2, 2, 4, 4])] {
            config.imageSize = size
            #expect(try config.resolvedChannelMult(path: "c") == mult)
        }
        config.imageSize = 32
        #expect(throws: UNetLoadError.self) { try config.resolvedChannelMult(path: "c") }
        #expect(try Self.config("D").channelMult == [1, 2, 3, 4])
        let d = try Self.model("D")  // binds (strictly) without running
        #expect(d.parameterCount == (try Fixtures.json(Goldens.self, "adm/D/goldens.json")).parameter_count)
    }

    @Test func classLabelsAreChecked() throws {
        let model = try Self.model("C")
        let x = [Float](repeating: 0.1, count: 3 * 32 * 32)
        #expect(throws: ClassLabelError.missing(count: 10)) { try model(x, batch: 1, height: 32, width: 32, timesteps: [1]) }
        #expect(throws: ClassLabelError.outOfRange(10, count: 10)) {
            try model(x, batch: 1, height: 32, width: 32, timesteps: [1], classLabels: [10])
        }
        _ = try model(x, batch: 1, height: 32, width: 32, timesteps: [1], classLabels: [9])
    }
}
