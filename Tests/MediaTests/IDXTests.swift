import Foundation
import Testing
@testable import Media

@Suite struct IDXTests {
    static let small = IDXArray(shape: [2, 3, 4], bytes: (0..<24).map { UInt8($0 * 10) })

    @Test(arguments: ["idx/small.idx", "idx/small.idx.gz"])
    func readsPlainAndGzip(path: String) throws {
        #expect(try IDXArray.read(from: mediaFixture(path)) == Self.small)
    }

    @Test func reportsDamagedGzip() {
        let url = mediaFixture("idx/truncated.idx.gz")
        let error = #expect(throws: MediaError.self) { try IDXArray.read(from: url) }
        #expect(error?.message.contains(url.path) == true)
        #expect(error?.message.contains("gzip") == true || error?.kind == "truncated", "\(error?.message ?? "")")
    }

    @Test func refusesOtherElementTypes() {
        let url = mediaFixture("idx/float.idx")
        let error = #expect(throws: MediaError.self) { try IDXArray.read(from: url) }
        #expect(error?.kind == "unsupported")
        #expect(error?.message.contains("element type float32 (0x0D)") == true, "\(error?.message ?? "")")
    }

    /// Damaged copies of small.idx (16 bytes of header, 24 of data), written by the test.
    @Test(arguments: [
        ("truncated data", "truncated", "announces 40 bytes, the file holds 39"),
        ("truncated header", "truncated", "announces 16 bytes, the file holds 10"),
        ("wrong magic", "malformed", "found 01 00 08 03"),
        ("no dimensions", "malformed", "found 00 00 08 00"),
        ("unknown type", "malformed", "found 42"),
        ("extra data", "malformed", "more data after them"),
        ("empty file", "truncated", "announces 4 bytes, the file holds 0"),
        ("dimension product overflows", "malformed", "dimensions whose product fits in memory"),
        ("huge dimensions, tiny file", "truncated", "announces 4294967312 bytes"),
    ])
    func reportsDamagedFiles(damage: String, kind: String, detail: String) throws {
        var bytes = [UInt8](try Data(contentsOf: mediaFixture("idx/small.idx")))
        switch damage {
        case "truncated data": bytes.removeLast()
        case "truncated header": bytes.removeLast(30)
        case "wrong magic": bytes[0] = 1
        case "no dimensions": bytes[3] = 0
        case "unknown type": bytes[2] = 0x42
        case "extra data": bytes.append(0)
        case "empty file": bytes = []
        case "dimension product overflows": bytes.replaceSubrange(4..<16, with: [UInt8](repeating: 0xFF, count: 12))
        case "huge dimensions, tiny file": bytes.replaceSubrange(4..<16, with: [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])
        default: Issue.record("unknown damage \(damage)")
        }
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("damaged.idx")
        try Data(bytes).write(to: url)

        let error = #expect(throws: MediaError.self) { try IDXArray.read(from: url) }
        #expect(error?.kind == kind, "\(error?.message ?? "")")
        #expect(error?.message.contains(url.path) == true)
        #expect(error?.message.contains(detail) == true, "\(error?.message ?? "")")
    }

    @Test func missingFileIsNamed() {
        let url = URL(fileURLWithPath: "/nonexistent/skipstep/x.idx.gz")
        let error = #expect(throws: MediaError.self) { try IDXArray.read(from: url) }
        #expect(error == .unreadable(path: url.path, reason: "no such file"))
    }
}

@Suite struct FashionMNISTTests {
    /// Needs the Debian package dataset-fashion-mnist (or SKIPSTEP_FASHION_MNIST_DIR); without it
    /// this fails with the install hint rather than being skipped.
    @Test func loadsTrainSplit() throws {
        let (images, labels) = try FashionMNIST.load(split: .train)
        #expect(images.shape == [60000, 28, 28])
        #expect(images.bytes.count == 60000 * 28 * 28)
        #expect(labels.count == 60000)
        #expect(labels.first == 9)  // the first training image is an ankle boot
        var perClass = [Int](repeating: 0, count: 10)
        for label in labels { perClass[Int(label)] += 1 }
        #expect(perClass == [Int](repeating: 6000, count: 10))
    }

    @Test func loadsTestSplit() throws {
        let (images, labels) = try FashionMNIST.load(split: .test)
        #expect(images.shape == [10000, 28, 28])
        #expect(labels.count == 10000 && labels.allSatisfy { $0 < 10 })
    }

    @Test func missingFilesSayHowToInstall() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = #expect(throws: MediaError.self) { try FashionMNIST.load(split: .test, directory: directory.path) }
        #expect(error?.kind == "datasetMissing")
        #expect(error?.message.contains(directory.path) == true)
        #expect(error?.message.contains("t10k-images-idx3-ubyte.gz") == true)
        #expect(error?.message.contains("apt-get install -y dataset-fashion-mnist") == true)
    }

    @Test func readsUncompressedFilesAndChecksLabels() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        func idx(_ shape: [Int], _ bytes: [UInt8]) -> Data {
            var data = Data([0, 0, 8, UInt8(shape.count)])
            for d in shape { data.append(contentsOf: withUnsafeBytes(of: UInt32(d).bigEndian, Array.init)) }
            return data + bytes
        }
        try idx([2, 28, 28], [UInt8](repeating: 3, count: 2 * 784))
            .write(to: directory.appendingPathComponent("t10k-images-idx3-ubyte"))
        let labels = directory.appendingPathComponent("t10k-labels-idx1-ubyte")
        try idx([2], [4, 7]).write(to: labels)
        #expect(try FashionMNIST.load(split: .test, directory: directory.path).labels == [4, 7])

        try idx([2], [4, 10]).write(to: labels)
        let error = #expect(throws: MediaError.self) { try FashionMNIST.load(split: .test, directory: directory.path) }
        #expect(error?.message.contains("labels 0…9, found 10 at index 1") == true, "\(error?.message ?? "")")

        // An empty split used to divide by zero in modelSpaceImages.
        try idx([0, 28, 28], []).write(to: directory.appendingPathComponent("t10k-images-idx3-ubyte"))
        try idx([0], []).write(to: labels)
        let empty = #expect(throws: MediaError.self) {
            try FashionMNIST.Selection(split: .test).modelSpaceImages(directory: directory.path)
        }
        #expect(empty?.message.contains("N ≥ 1") == true, "\(empty?.message ?? "")")
    }

    @Test func selectionsNameSplitsAndSlices() throws {
        typealias Selection = FashionMNIST.Selection
        #expect(try Selection(parsing: "fashion-mnist:test") == Selection(split: .test))
        #expect(try Selection(parsing: "fashion-mnist:train[10:2010]") == Selection(split: .train, range: 10..<2010))
        #expect(Selection(split: .train, range: 10..<2010).description == "fashion-mnist:train[10:2010]")
        #expect(!Selection.isSelection("samples.npy") && Selection.isSelection("fashion-mnist:x"))
        for (name, reason) in [("fashion-mnist:valid", "expected fashion-mnist:test or fashion-mnist:train (optionally sliced: [A:B])"),
                               ("fashion-mnist:test[5:2]", "expected fashion-mnist:SPLIT[A:B] with 0 ≤ A < B, e.g. fashion-mnist:train[0:2000]"),
                               ("fashion-mnist:test[:5]", "expected fashion-mnist:SPLIT[A:B] with 0 ≤ A < B, e.g. fashion-mnist:train[0:2000]"),
                               ("fashion-mnist:test[0:10001]", "fashion-mnist:test has 10000 images, the slice ends at 10001"),
                               ("test.npy", "expected fashion-mnist:test or fashion-mnist:train (optionally sliced: [A:B])")] {
            #expect(throws: MediaError.invalidSelection(name: name, reason: reason)) { try Selection(parsing: name) }
        }
        let whole = try Selection(split: .test).modelSpaceImages()
        let slice = try Selection(split: .test, range: 9990..<10000).modelSpaceImages()
        #expect(whole.count == 10000 * 784 && Array(whole.suffix(10 * 784)) == slice)
        #expect(whole.min() == -1 && whole.max() == 1)
        #expect(throws: MediaError.invalidSelection(name: "fashion-mnist:test[0:10001]",
                                                    reason: "fashion-mnist:test has 10000 images, the slice ends at 10001")) {
            try Selection(split: .test, range: 0..<10001).modelSpaceImages()  // built, not parsed: checked on loading
        }
    }

    @Test func directoryPrecedence() {
        let variable = FashionMNIST.directoryVariable
        #expect(variable == "SKIPSTEP_FASHION_MNIST_DIR")
        #expect(FashionMNIST.directory(explicit: "/a", environment: [variable: "/b"]) == "/a")
        #expect(FashionMNIST.directory(explicit: nil, environment: [variable: "/b"]) == "/b")
        #expect(FashionMNIST.directory(explicit: nil, environment: [variable: ""]) == FashionMNIST.defaultDirectory)
        #expect(FashionMNIST.directory(explicit: nil, environment: [:]) == "/usr/share/datasets/fashion-mnist")
    }
}
