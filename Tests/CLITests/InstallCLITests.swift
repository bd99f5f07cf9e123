import Foundation
import Media
import Testing

/// tools/install.sh's layout: the installed binary finds its models from any working directory.
@Suite struct InstallCLITests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func run(_ executable: URL, _ arguments: [String], in directory: URL,
                    environment: [String: String] = [:]) throws -> CLITests.Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        env["SKIPSTEP_MODELS_DIR"] = nil  // found from the binary's location, not from the environment
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return .init(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                     stderr: String(decoding: stderr, as: UTF8.self))
    }

    @Test func theInstalledBinarySamplesFromAnotherDirectory() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("skipstep-install-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let prefix = root.appendingPathComponent("prefix"), elsewhere = root.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)

        let install = try Self.run(URL(fileURLWithPath: "/bin/bash"),
                                   [Self.repository.appendingPathComponent("tools/install.sh").path,
                                    "--binary", CLITests.binary.path, prefix.path], in: elsewhere)
        #expect(install.status == 0, "\(install.stderr)")
        let installed = prefix.appendingPathComponent("bin/skipstep")
        #expect(FileManager.default.fileExists(atPath: prefix.appendingPathComponent("share/skipstep/models/fashion-ddpm-28/model_index.json").path))

        let version = try Self.run(installed, ["--version"], in: elsewhere)
        #expect(version.status == 0 && !version.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)

        // Through a symbolic link elsewhere (as in /usr/local/bin), from a directory without models/.
        let link = root.appendingPathComponent("links/skipstep")
        try FileManager.default.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: installed)
        for executable in [installed, link] {
            let sample = try Self.run(executable, ["sample", "--count", "4", "--sampler", "ddim", "--steps", "5", "--out", "grid.png"],
                                      in: elsewhere)
            #expect(sample.status == 0, "\(sample.stderr)")
            let grid = try Image8.readPNG(from: elsewhere.appendingPathComponent("grid.png"))
            #expect(grid.width > 28 && grid.height >= 28)
            try FileManager.default.removeItem(at: elsewhere.appendingPathComponent("grid.png"))
        }

        // A binary copied away from its models says where it looked and how to install.
        let stray = root.appendingPathComponent("stray/skipstep")
        try FileManager.default.createDirectory(at: stray.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: installed, to: stray)
        let lost = try Self.run(stray, ["sample", "--count", "4", "--steps", "5", "--out", "grid.png"], in: elsewhere)
        #expect(lost.status != 0 && lost.stderr.contains("share/skipstep/models") && lost.stderr.contains("tools/install.sh"), "\(lost.stderr)")
    }
}
