import Foundation

/// Where a diffusers or transformers component folder keeps its weights: `BASE.safetensors`, or
/// with a variant `BASE.VARIANT.safetensors` (diffusers' `variant="fp16"` →
/// `diffusion_pytorch_model.fp16.safetensors`, `model.fp16.safetensors`; modeling_utils.py
/// `_add_variant`). Bases: `diffusion_pytorch_model` (diffusers models), `model` (transformers).
public enum DiffusersWeightFile {
    /// The file name diffusers gives `base` with `variant`.
    public static func name(base: String, variant: String?) -> String {
        variant.map { "\(base).\($0).safetensors" } ?? "\(base).safetensors"
    }

    /// The weights of the component in `directory`, or an error that says what is there instead:
    /// pickle weights (with the command that converts them, `className` being the diffusers or
    /// transformers class), or other variants than the one asked for.
    public static func locate(in directory: URL, base: String, variant: String?, className: String) throws -> URL {
        let manager = FileManager.default
        let url = directory.appendingPathComponent(name(base: base, variant: variant))
        if manager.fileExists(atPath: url.path) { return url }
        // transformers names its pickle files `pytorch_model[.variant].bin`, diffusers keeps the base.
        let pickleBase = base == "model" ? "pytorch_model" : base
        let pickle = directory.appendingPathComponent(variant.map { "\(pickleBase).\($0).bin" } ?? "\(pickleBase).bin")
        if manager.fileExists(atPath: pickle.path) { throw UNetLoadError.pickleWeights(path: pickle.path, className: className) }
        let present = ((try? manager.contentsOfDirectory(atPath: directory.path)) ?? [])
            .filter { $0.hasPrefix(base + ".") && $0.hasSuffix(".safetensors") }.sorted()
        let hint = present.isEmpty
            ? "the \(className) weights must be saved as safetensors"
            : "this folder has \(present.joined(separator: ", "))"
                + (variant == nil ? " (choose one with --variant)" : " (drop --variant or choose one of these)")
        throw UNetLoadError.missingFile(path: url.path, hint: hint)
    }
}

/// A component's config.json type: decoded with diffusers' and transformers' defaults, then its
/// values checked, each error naming the file.
public protocol ComponentConfig: Decodable {
    func validate(path: String) throws
}

/// One component folder of a diffusers pipeline (`unet/`, `vae/`, `text_encoder/`): its
/// config.json, decoded and validated, and its weights file (`DiffusersWeightFile`).
enum ComponentFolder {
    static func read<C: ComponentConfig>(_ type: C.Type, in directory: URL, weightsBase: String, variant: String?,
                                         className: String) throws -> (config: C, weights: SafeTensorsFile, configPath: String) {
        let configURL = directory.appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw UNetLoadError.missingFile(path: configURL.path, hint: "a \(className) folder holds config.json and "
                                            + DiffusersWeightFile.name(base: weightsBase, variant: variant))
        }
        let config = try ConfigFile.decode(C.self, at: configURL, what: className)
        try config.validate(path: configURL.path)
        let weights = try DiffusersWeightFile.locate(in: directory, base: weightsBase, variant: variant, className: className)
        return (config, try SafeTensorsFile(contentsOf: weights), configURL.path)
    }
}
