import ArgumentParser
import Diffusion
import Foundation
import Media
import Models

struct ForwardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run the network once on given inputs and write its raw output (a parity check against the reference code).",
        discussion: """
            Reads x (float32 .npy, N×C×H×W in model space), evaluates the model's network at one timestep \
            (a model index; fractional values are passed as they are) with optional class labels, and writes \
            the network's output unchanged: N×C'×H×W float32, with C' = 2C for models that learn the variance \
            (ε first, then the variance value v). No sampler, no clipping, no noise. \
            tools/check_adm_checkpoint.py compares this with guided-diffusion's UNetModel on the same x, t and y.
            Example: skipstep forward --model adm-256 --input x.npy --timestep 500 --class 7,207 --out y.npy
            """)

    @Option(help: ArgumentHelp("The model (as `sample --model`).", valueName: "name|path"))
    var model: String = ModelCatalog.defaultModelName

    @Option(help: ArgumentHelp("Diffusers folders: the weights variant (as `sample --variant`).", valueName: "name"))
    var variant: String?

    @Option(help: ArgumentHelp("The network's input: float32 .npy of shape N×C×H×W.", valueName: "file.npy"))
    var input: String

    @Option(parsing: .unconditional, help: "The timestep (model index) of every sample.")
    var timestep: Double

    @Option(name: .customLong("class"), help: ArgumentHelp(
        "Class-conditional models: one label for every sample, or one per sample separated by commas.", valueName: "C[,C…]"))
    var classLabels: String?

    @Option(help: ArgumentHelp("Where to write the output (.npy).", valueName: "file.npy"))
    var out: String

    func validate() throws {
        guard out.lowercased().hasSuffix(".npy") else { throw ValidationError("--out \(out): expected a path ending in .npy") }
        guard timestep.isFinite, timestep >= 0 else { throw ValidationError("--timestep must be finite and ≥ 0, got \(timestep)") }
        _ = try parsedLabels()
    }

    func parsedLabels() throws -> [Int]? {
        guard let classLabels else { return nil }
        let parts = classLabels.split(separator: ",", omittingEmptySubsequences: false)
        let labels = parts.map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !labels.isEmpty, labels.allSatisfy({ $0 != nil }) else {
            throw ValidationError("--class must be a class number or numbers separated by commas, got '\(classLabels)'")
        }
        return labels.compactMap { $0 }
    }

    func run() async throws {
        let array: NPYArray
        do { array = try NPYArray.read(from: URL(fileURLWithPath: input)) } catch {
            throw RunError("--input \(input): \(error.localizedDescription)")
        }
        let loaded = try Settings.current.catalog.load(model, variant: variant)
        let denoiser = loaded.denoiser
        let shape = denoiser.sampleShape
        guard array.shape.count == shape.count + 1, Array(array.shape.dropFirst()) == shape, array.shape[0] >= 1 else {
            throw ValidationError("--input \(input) has shape \(array.shape), expected N×\(shape.map(String.init).joined(separator: "×"))")
        }
        if let bad = array.values.firstIndex(where: { !$0.isFinite }) {
            throw ValidationError("--input \(input): value \(bad) is \(array.values[bad]); the input must be finite")
        }
        guard timestep <= Double(loaded.schedule.trainSteps - 1) else {
            throw ValidationError("--timestep \(timestep) is past the model's last index \(loaded.schedule.trainSteps - 1)")
        }
        let batch = array.shape[0]
        var labels = try parsedLabels()
        if let given = labels, given.count == 1, batch > 1 { labels = Array(repeating: given[0], count: batch) }
        if let given = labels, given.count != batch {
            throw ValidationError("--class gives \(given.count) labels for \(batch) samples (give one, or one per sample)")
        }
        do {
            try ClassLabels.check(labels, classCount: denoiser.classCount, samples: batch)
        } catch let error as ClassLabelError {
            throw ValidationError("--class: \(error.localizedDescription)")
        }
        let output = try denoiser.predict(array.values, batch: batch, timestep: timestep, classLabels: labels)
        let channels = output.count / (batch * shape.dropFirst().reduce(1, *))
        try NPYArray(shape: [batch, channels] + shape.dropFirst(), values: output).write(to: URL(fileURLWithPath: out))
        log("wrote \(out): \(batch)×\(channels)×\(shape.dropFirst().map(String.init).joined(separator: "×")) at t = \(timestep)")
    }
}
