import Foundation
import Models
import Testing
import TestSupport

/// The Swift classifier against its PyTorch original (Tests/Fixtures/classifier, written by
/// `python tools/train_classifier.py --out Tests/Fixtures/classifier --max-steps 30`).
@Suite struct FashionClassifierTests {
    struct Golden: Decodable { var inputs: [[[[Float]]]]; var features: [[Float]]; var logits: [[Float]]; var labels: [Int] }

    @Test func featuresAndLogitsMatchPyTorch() throws {
        let directory = Fixtures.url("classifier")
        let model = try FashionClassifier(directory: directory)
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: directory.appendingPathComponent("golden.json")))
        let x = golden.inputs.flatMap { $0.flatMap { $0.flatMap { $0 } } }
        let (features, logits) = try model(x, batch: golden.inputs.count)
        #expect(model.featureDimension == 128 && model.classes.count == 10)
        let f = relativeL2(features, golden.features.flatMap { $0 }), l = relativeL2(logits, golden.logits.flatMap { $0 })
        #expect(f <= 1e-5 && l <= 1e-5, "features \(f), logits \(l)")
        // Batch independence: one image alone gives the same features.
        let single = try model(Array(x[0..<784]), batch: 1)
        #expect(relativeL2(single.features, features[0..<128]) <= 1e-6)
    }
}
