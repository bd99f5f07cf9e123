import Foundation
import InceptionFixture
import Media
import Testing
import TestSupport

/// `sample` and `sweep` are one library path: same spec and seeds, same samples; a sweep scores any
/// model against any reference.
extension CLITests {
    @Test func sampleAndSweepGiveBitIdenticalSamplesForTheSameSpec() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sweep = dir.appendingPathComponent("sweep")
        let r = try Self.run(["sweep", "--model", model, "--samplers", "ddim:eta=0.5,mix:cutoff=600", "--steps", "5",
                              "--count", "7", "--batch", "8", "--seed", "11", "--metrics", "", "--out", sweep.path])
        #expect(r.status == 0, "\(r.stderr)")
        for (sampler, cell) in [("ddim:eta=0.5", "ddim_eta=0.5-5"), ("mix:cutoff=600", "mix-5-tc600")] {
            // A different --batch: samples do not depend on it.
            let out = dir.appendingPathComponent("\(cell).npy").path
            let s = try Self.run(["sample", "--model", model, "--sampler", sampler, "--steps", "5", "--count", "7",
                                  "--batch", "4", "--seed", "11", "--out", out])
            #expect(s.status == 0, "\(s.stderr)")
            let sampled = try NPYArray.read(from: URL(fileURLWithPath: out))
            let preview = try NPYArray.read(from: sweep.appendingPathComponent("cells/\(cell)/preview.npy"))
            #expect(preview.shape == [7, 1, 2, 3])
            #expect(preview.values == sampled.values, "\(sampler)")
        }
        // The shorthand flags build the same spec.
        let flags = dir.appendingPathComponent("flags.npy").path
        let f = try Self.run(["sample", "--model", model, "--sampler", "mix", "--cutoff", "600", "--steps", "5", "--count", "7",
                              "--seed", "11", "--out", flags])
        #expect(f.status == 0, "\(f.stderr)")
        #expect(try NPYArray.read(from: URL(fileURLWithPath: flags)).values
                == NPYArray.read(from: sweep.appendingPathComponent("cells/mix-5-tc600/preview.npy")).values)
        let table = try String(contentsOf: sweep.appendingPathComponent("table.md"), encoding: .utf8)
        #expect(table.contains("DDIM (η = 0.5)") && table.contains("Mix (t_c = 600)"), "\(table)")
    }

    @Test func aSweepTheModelRefusesWritesNothing() throws {
        let (dir, model) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("sweep")
        let r = try Self.run(["sweep", "--model", model, "--samplers", "skip,mix", "--cutoffs", "5000", "--steps", "5",
                              "--count", "4", "--metrics", "", "--out", out.path])
        #expect(r.status != 0 && r.stderr.contains("mix-5-tc5000") && r.stderr.contains("t_c"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out.path), "a refused sweep must leave no directory")
        let flag = try Self.run(["sample", "--model", model, "--sampler", "mix:cutoff=291", "--cutoff", "300", "--out", out.path + ".npy"])
        #expect(flag.status != 0 && flag.stderr.contains("--cutoff: --sampler mix:cutoff=291 already sets cutoff"), "\(flag.stderr)")
    }

    /// The paper's comparison on a model that is not Fashion-MNIST: a random 3×16×16 diffusers
    /// UNet, scored by pytorch-fid's Inception (random weights) against a statistics file.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["SKIPSTEP_LONG_TESTS"] == "1"))
    func aSweepScoresAThreeChannelModelAgainstStatistics() throws {
        let (dir, _) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = dir.appendingPathComponent("inception.safetensors")
        try RandomInceptionWeights.writer().write(to: weights)
        let model = Fixtures.url("unet/tiny_default").path
        let reference = dir.appendingPathComponent("reference.npy").path
        let s = try Self.run(["sample", "--model", model, "--sampler", "ddpm", "--steps", "10", "--count", "4", "--seed", "100",
                              "--out", reference])
        #expect(s.status == 0, "\(s.stderr)")
        let stats = dir.appendingPathComponent("reference.npz").path
        let e = try Self.run(["eval", reference, "--network", "inception", "--weights", weights.path, "--save-stats", stats])
        #expect(e.status == 0, "\(e.stderr)")
        let out = dir.appendingPathComponent("sweep")
        let r = try Self.run(["sweep", "--model", model, "--samplers", "skip,ddim:eta=0.5", "--steps", "3", "--count", "3",
                              "--network", "inception", "--weights", weights.path, "--reference", stats, "--metrics", "fid",
                              "--out", out.path])
        #expect(r.status == 0, "\(r.stderr)")
        let results = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8)
        let rows = results.split(separator: "\n")
        #expect(rows.count == 3 && rows[0].hasPrefix("sampler,steps,nfe,cutoff,skip_steps,count,fid,"), "\(results)")
        for row in rows.dropFirst() {
            let fid = Double(row.split(separator: ",", omittingEmptySubsequences: false)[6]) ?? -1
            #expect(fid > 0 && fid.isFinite, "\(row)")
        }
        let table = try String(contentsOf: out.appendingPathComponent("table.md"), encoding: .utf8)
        #expect(table.contains("pytorch-fid's FID Inception") && table.contains("reference.npz"), "\(table)")
        // KID needs per-image features, which a statistics file does not have: refused up front.
        let kid = try Self.run(["sweep", "--model", model, "--samplers", "skip", "--steps", "3", "--count", "3",
                                "--network", "inception", "--weights", weights.path, "--reference", stats, "--metrics", "fid,kid",
                                "--out", dir.appendingPathComponent("kid").path])
        #expect(kid.status != 0 && kid.stderr.contains("kid needs per-image reference features"), "\(kid.stderr)")
    }
}

extension CLITests {
    /// The README's library example (Examples/SampleMix, built with the package) writes the image
    /// the CLI writes for the same spec and seeds.
    @Test func theLibraryExampleWritesWhatTheCLIWrites() throws {
        let (dir, _) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = Fixtures.url("unet/tiny_default").path
        let example = Self.binary.deletingLastPathComponent().appendingPathComponent("skipstep-example")
        let fromLibrary = dir.appendingPathComponent("library.png"), fromCLI = dir.appendingPathComponent("cli.png")
        let process = Process()
        process.executableURL = example
        process.arguments = [model, fromLibrary.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let r = try Self.run(["sample", "--model", model, "--sampler", "mix:cutoff=291", "--steps", "25", "--count", "16",
                              "--seed", "0", "--out", fromCLI.path])
        #expect(r.status == 0, "\(r.stderr)")
        let image = try Image8.readPNG(from: fromLibrary)
        #expect(image.channels == 3 && image.width > 16 && image.height > 16)
        // The same pixels; the CLI's file also carries its provenance in text chunks, which the
        // example does not write (without them the bytes are the same: pngData() of the same image).
        let cli = try Image8.readPNG(from: fromCLI)
        #expect(cli == image)
        #expect(try Data(contentsOf: fromLibrary) == cli.pngData())
        #expect(try Image8.readPNGText(from: fromCLI).contains { $0.key == "sampler" && $0.value == "mix:cutoff=291" })
    }
}
