import Foundation
import Media
import Testing
import TestSupport

extension CLITests {
    /// A fake Hugging Face cache (refs, snapshots, symlinks into blobs/), as huggingface_hub lays it
    /// out: `--model ORG/NAME[@REVISION]` samples from it offline.
    @Test func modelsAreFoundInTheHuggingFaceCache() throws {
        let (dir, _) = try Self.workspace()
        defer { try? FileManager.default.removeItem(at: dir) }
        let manager = FileManager.default
        let cache = dir.appendingPathComponent("hf/hub")
        let repository = cache.appendingPathComponent("models--acme--tiny-ddpm")
        let commit = String(repeating: "ab12", count: 10)
        let snapshot = repository.appendingPathComponent("snapshots/\(commit)")
        try manager.createDirectory(at: repository.appendingPathComponent("blobs"), withIntermediateDirectories: true)
        try manager.createDirectory(at: snapshot, withIntermediateDirectories: true)
        try manager.createDirectory(at: repository.appendingPathComponent("refs"), withIntermediateDirectories: true)
        try Data((commit + "\n").utf8).write(to: repository.appendingPathComponent("refs/main"))
        try Data(commit.utf8).write(to: repository.appendingPathComponent("refs/v1"))
        let source = Fixtures.url("unet/tiny_default")
        for (i, file) in ["config.json", "diffusion_pytorch_model.safetensors"].enumerated() {
            let blob = repository.appendingPathComponent("blobs/blob\(i)")
            try manager.copyItem(at: source.appendingPathComponent(file), to: blob)
            try manager.createSymbolicLink(atPath: snapshot.appendingPathComponent(file).path,
                                           withDestinationPath: "../../blobs/blob\(i)")
        }
        let reference = dir.appendingPathComponent("ref.npy").path
        let direct = try Self.run(["sample", "--model", source.path, "--sampler", "ddim", "--steps", "3", "--count", "2",
                                   "--out", reference])
        #expect(direct.status == 0, "\(direct.stderr)")
        for (variable, model) in [("HF_HUB_CACHE", "acme/tiny-ddpm"), ("HF_HOME", "acme/tiny-ddpm@v1"),
                                  ("HF_HUB_CACHE", "acme/tiny-ddpm@\(commit)")] {
            let root = variable == "HF_HOME" ? cache.deletingLastPathComponent().path : cache.path
            let out = dir.appendingPathComponent("hub.npy").path
            let r = try Self.run(["sample", "--model", model, "--sampler", "ddim", "--steps", "3", "--count", "2", "--out", out],
                                 environment: [variable: root])
            #expect(r.status == 0, "\(model): \(r.stderr)")
            #expect(try NPYArray.read(from: URL(fileURLWithPath: out)) == NPYArray.read(from: URL(fileURLWithPath: reference)))
        }
        let missing = try Self.run(["sample", "--model", "acme/absent", "--out", dir.appendingPathComponent("x.npy").path],
                                   environment: ["HF_HUB_CACHE": cache.path])
        #expect(missing.status != 0 && missing.stderr.contains("huggingface-cli download acme/absent"), "\(missing.stderr)")
        #expect(!missing.stderr.contains("Usage:"), "\(missing.stderr)")
    }
}
