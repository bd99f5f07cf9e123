import Foundation
import Testing
import Files

@Suite struct AtomicFileTests {
    @Test func writesAndReplacesLeavingNoTemporaryFiles() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let target = directory.appendingPathComponent("out.bin")

        try AtomicFile.write(Data("first".utf8), to: target)
        #expect(try Data(contentsOf: target) == Data("first".utf8))
        try AtomicFile.write(Data("second, longer".utf8), to: target)
        #expect(try Data(contentsOf: target) == Data("second, longer".utf8))
        try AtomicFile.write(Data(), to: target)
        #expect(try Data(contentsOf: target).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["out.bin"])
    }

    @Test func missingDirectoryIsNamed() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let target = directory.appendingPathComponent("absent/out.bin")

        let error = #expect(throws: FileWriteError.self) { try AtomicFile.write(Data([1]), to: target) }
        #expect(error?.localizedDescription.contains(target.path) == true)
        #expect(error?.localizedDescription.contains("does not exist") == true)
    }

    @Test func failedRenameRemovesTheTemporaryFile() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The target is a non-empty directory, so the final rename fails after the data is written.
        let target = directory.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try Data([7]).write(to: target.appendingPathComponent("inside"))

        let error = #expect(throws: FileWriteError.self) { try AtomicFile.write(Data([1, 2, 3]), to: target) }
        #expect(error?.localizedDescription.contains(target.path) == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["taken"])
        #expect(try Data(contentsOf: target.appendingPathComponent("inside")) == Data([7]))
    }

    @Test(.enabled(if: geteuid() != 0, "root ignores directory permissions"))
    func readOnlyDirectoryIsReported() throws {
        let directory = try makeTemporaryDirectory()
        defer {
            chmod(directory.path, 0o755)
            try? FileManager.default.removeItem(at: directory)
        }
        chmod(directory.path, 0o555)
        let error = #expect(throws: FileWriteError.self) {
            try AtomicFile.write(Data([1]), to: directory.appendingPathComponent("out.bin"))
        }
        #expect(error?.localizedDescription.contains("Permission denied") == true)
    }
}
