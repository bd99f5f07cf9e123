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
        let pickle = directory.appendingPathComponent(variant.map { "\(base).\($0).bin" } ?? "\(base).bin")
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
