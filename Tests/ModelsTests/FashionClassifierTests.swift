import Foundation
import Media
import Models
import Testing
import TestSupport

/// The Swift classifier against its PyTorch original: the test fixture (a 30-step smoke export,
/// `python tools/train_classifier.py --out Tests/Fixtures/classifier --max-steps 30`) and the
/// shipped network (`python3 tools/train_classifier.py --out models/fashion-classifier --epochs 5`).
@Suite struct FashionClassifierTests {
    struct Golden: Decodable { var inputs: [[[[Float]]]]; var features: [[Float]]; var logits: [[Float]]; var labels: [Int] }

    static let shipped = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("models/fashion-classifier")

    @Test(arguments: [Fixtures.url("classifier"), shipped])
    func featuresAndLogitsMatchPyTorch(directory: URL) throws {
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

    /// The shipped network's test accuracy in Swift equals PyTorch's (train_log.csv: 0.9155).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SKIPSTEP_LONG_TESTS"] == "1"))
    func shippedNetworkAccuracyOnTheTestSplit() throws {
        let model = try FashionClassifier(directory: Self.shipped)
        let (images, labels) = try FashionMNIST.load(split: .test)
        var correct = 0
        for start in stride(from: 0, to: labels.count, by: 500) {
            let count = min(500, labels.count - start)
            let x = images.bytes[(start * 784)..<((start + count) * 784)].map { Float($0) / 127.5 - 1 }
            let logits = try model(x, batch: count).logits
            for i in 0..<count {
                let row = logits[(i * 10)..<((i + 1) * 10)]
                if row.indices.max(by: { row[$0] < row[$1] }).map({ $0 - i * 10 }) == Int(labels[start + i]) { correct += 1 }
            }
        }
        let accuracy = Double(correct) / Double(labels.count)
        print("Swift test accuracy \(accuracy)")
        #expect(abs(accuracy - 0.9155) <= 0.0002, "accuracy \(accuracy)")
        #expect(accuracy >= 0.91)
    }
}
