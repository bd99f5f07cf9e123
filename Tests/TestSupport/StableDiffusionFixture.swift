import Foundation

/// The tiny Stable Diffusion pipeline of tools/make_sd_pipeline_fixtures.py, assembled in a
/// temporary folder from the component fixtures exactly as the tool assembles it: the SD 2
/// tokenizer files (clip/), the random text encoder (clip/text_encoder), UNet
/// (sd/unet_linear_list_heads) and VAE (sd/vae), the scheduler config and model_index.json
/// recorded in sd/pipeline/goldens.json.
public enum StableDiffusionFixture {
    /// - Parameters:
    ///   - prediction: the scheduler's `prediction_type`.
    ///   - schedulerClass: the scheduler's `_class_name`.
    ///   - edit: changes the folder before it is returned.
    public static func pipelineFolder(prediction: String = "epsilon", schedulerClass: String = "DDIMScheduler",
                                      edit: (URL) throws -> Void = { _ in }) throws -> URL {
        let manager = FileManager.default
        let root = manager.temporaryDirectory.appendingPathComponent("skipstep-sd-\(UUID().uuidString)")
        for folder in ["tokenizer", "unet", "vae", "scheduler"] {
            try manager.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        func copy(_ fixture: String, _ destination: String) throws {
            try manager.copyItem(at: Fixtures.url(fixture), to: root.appendingPathComponent(destination))
        }
        try copy("clip/vocab.json", "tokenizer/vocab.json")
        try copy("clip/merges.txt", "tokenizer/merges.txt")
        try copy("clip/vocab_layout/special_tokens_map.json", "tokenizer/special_tokens_map.json")
        try copy("clip/vocab_layout/tokenizer_config.json", "tokenizer/tokenizer_config.json")
        try copy("clip/text_encoder", "text_encoder")
        for name in ["config.json", "diffusion_pytorch_model.safetensors"] {
            try copy("sd/unet_linear_list_heads/\(name)", "unet/\(name)")
            try copy("sd/vae/\(name)", "vae/\(name)")
        }
        let goldens = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.url("sd/pipeline/goldens.json")))
        guard let goldens = goldens as? [String: Any], var scheduler = goldens["scheduler_config"] as? [String: Any],
              let index = goldens["model_index"] else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: "sd/pipeline/goldens.json"])
        }
        scheduler["prediction_type"] = prediction
        scheduler["_class_name"] = schedulerClass
        try JSONSerialization.data(withJSONObject: scheduler, options: [.sortedKeys])
            .write(to: root.appendingPathComponent("scheduler/scheduler_config.json"))
        try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys])
            .write(to: root.appendingPathComponent("model_index.json"))
        try edit(root)
        return root
    }
}
