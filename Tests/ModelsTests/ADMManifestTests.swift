import Foundation
import Models
import Tensor
import Testing
import TestSupport

/// The six released guided-diffusion base checkpoints' configurations: ADMUNet's key/shape table
/// (`ADMLayout.weightTable`, the list its binder checks a file against) equals guided-diffusion's
/// `UNetModel.state_dict()` built from the README's MODEL_FLAGS (Tests/Fixtures/adm/manifests,
/// tools/make_adm_manifests.py, UNetModel on torch's meta device), key for key in order, shape for
/// shape, with the same parameter count. No weights are allocated.
@Suite struct ADMManifestTests {
    struct Entry: Decodable, Equatable {
        var key: String
        var shape: [Int]
        init(key: String, shape: [Int]) { self.key = key; self.shape = shape }
        init(from decoder: Decoder) throws {
            var c = try decoder.unkeyedContainer()
            key = try c.decode(String.self)
            shape = try c.decode([Int].self)
        }
    }
    struct Manifest: Decodable {
        var preset: String
        var config: ADMConfig
        var parameter_count: Int
        var keys: [Entry]
    }

    /// The issue's analytic parameter counts (issue 19, "Cost on 2 cores"), in millions to 0.1 M.
    static let issueCounts: [String: Double] = [
        "imagenet64": 295.9, "imagenet128": 421.5, "imagenet256": 553.8, "imagenet256-uncond": 552.8,
        "imagenet512": 559.0, "lsun256": 552.8,
    ]

    @Test(arguments: ["imagenet64", "imagenet128", "imagenet256", "imagenet256-uncond", "imagenet512", "lsun256"])
    func releasedConfigMatchesGuidedDiffusion(preset: String) throws {
        let manifest = try Fixtures.json(Manifest.self, "adm/manifests/\(preset).json")
        #expect(manifest.preset == preset)
        let layout = try ADMLayout(config: manifest.config, path: preset)
        let table = layout.weightTable.map { Entry(key: $0.key, shape: $0.shape) }
        #expect(table.count == manifest.keys.count, "\(preset): \(table.count) tensors, guided-diffusion has \(manifest.keys.count)")
        for (ours, theirs) in zip(table, manifest.keys) where ours != theirs {
            Issue.record("\(preset): ADMUNet binds \(ours.key) \(ours.shape) where guided-diffusion has \(theirs.key) \(theirs.shape)")
            break
        }
        #expect(layout.parameterCount == manifest.parameter_count)
        let millions = (Double(manifest.parameter_count) / 1e5).rounded() / 10
        #expect(millions == Self.issueCounts[preset], "\(preset): \(manifest.parameter_count) parameters")
        print("ADM \(preset): \(manifest.parameter_count) parameters, \(table.count) tensors, as guided-diffusion's UNetModel")
    }

    /// The layout's table is what ADMUNet's binder takes: on the parity configs A–D (every module
    /// variant: both resampling kinds, scale-shift on and off, head counts by num_heads and by
    /// num_head_channels, with and without learn_sigma) it equals keys.json, whose weights the
    /// strict binder accepts (ADMParityTests).
    @Test(arguments: ["A", "B", "C", "D"])
    func layoutEqualsTheParityFixturesKeys(name: String) throws {
        let config = try Fixtures.json(ADMConfig.self, "adm/\(name)/adm_config.json")
        let layout = try ADMLayout(config: config, path: name)
        let keys = try HashedWeights.manifest("adm/\(name)/keys.json")
        #expect(layout.weightTable.map(\.key) == keys.map(\.name))
        #expect(layout.weightTable.map(\.shape) == keys.map(\.shape))
        guard name != "D" else { return }
        let model = try ADMUNet(config: config, weights: InMemoryWeights(name: name, try HashedWeights.tensors("adm/\(name)/keys.json")))
        #expect(model.parameterCount == layout.parameterCount)
    }
}
