import Diffusion
import Foundation

/// A Stable Diffusion 1.x/2.x pipeline loaded from a diffusers folder, ready to turn prompts into
/// a `LoadedModel` (a classifier-free-guided latent denoiser) and latents into images.
public final class StableDiffusion: @unchecked Sendable {
    public let directory: URL
    public let tokenizer: CLIPTokenizer
    /// The text encoder's config (its weights are loaded by `init`, and released by `model(…)`
    /// once the prompts are encoded: `textEncoder()`).
    public let textEncoderConfig: CLIPTextConfig
    public let unet: UNet2DConditionModel
    public let vae: AutoencoderKLDecoder
    public let scheduler: SchedulerConfig
    /// The scheduler config's path, for messages.
    public let schedulerPath: String
    public let schedule: NoiseSchedule
    public let predictionType: PredictionType
    private let textEncoderDirectory: URL
    private let variant: String?
    /// The loaded text encoder, nil once released; guarded by `lock`.
    private var loadedTextEncoder: CLIPTextModel?
    private let lock = NSLock()

    /// Loads every component of the pipeline in `directory`; `variant` selects
    /// `*.VARIANT.safetensors` weights (e.g. `fp16`).
    public init(directory: URL, variant: String? = nil) throws {
        self.directory = directory
        let indexURL = directory.appendingPathComponent("model_index.json")
        guard FileManager.default.fileExists(atPath: indexURL.path) else {
            throw UNetLoadError.missingFile(path: indexURL.path, hint: "expected a diffusers StableDiffusionPipeline folder "
                                            + "(model_index.json, tokenizer/, text_encoder/, unet/, vae/, scheduler/)")
        }
        _ = try StableDiffusionIndex(contentsOf: indexURL)
        func folder(_ name: String) throws -> URL {
            let url = directory.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw UNetLoadError.missingFile(path: url.path, hint: "model_index.json names a \(name) component")
            }
            return url
        }
        let schedulerURL = try folder("scheduler").appendingPathComponent("scheduler_config.json")
        guard FileManager.default.fileExists(atPath: schedulerURL.path) else {
            throw UNetLoadError.missingFile(path: schedulerURL.path, hint: "the training schedule is unknown without it "
                                            + "(restore the pipeline's scheduler/ folder)")
        }
        schedulerPath = schedulerURL.path
        scheduler = try ConfigFile.decode(SchedulerConfig.self, at: schedulerURL, what: "scheduler")
        try scheduler.validate(path: schedulerPath)
        schedule = try scheduler.schedule(path: schedulerPath)
        guard let prediction = PredictionType(rawValue: scheduler.predictionType) else {
            throw UNetLoadError.unsupportedOption(path: schedulerPath, key: "prediction_type", value: scheduler.predictionType,
                                                  supported: "epsilon, sample, v_prediction")
        }
        predictionType = prediction
        tokenizer = try CLIPTokenizer(directory: folder("tokenizer"))
        textEncoderDirectory = try folder("text_encoder")
        self.variant = variant
        let textEncoder = try CLIPTextModel(directory: textEncoderDirectory, variant: variant)
        textEncoderConfig = textEncoder.config
        loadedTextEncoder = textEncoder
        unet = try UNet2DConditionModel(directory: folder("unet"), variant: variant)
        vae = try AutoencoderKLDecoder(directory: folder("vae"), variant: variant)
        let unetConfig = directory.appendingPathComponent("unet/config.json").path
        guard (0..<unet.config.levels).allSatisfy({ unet.config.crossDim($0) == textEncoderConfig.hiddenSize }) else {
            throw UNetLoadError.invalidConfig(path: unetConfig, reason: "cross_attention_dim \(unet.config.crossAttentionDim ?? []) "
                                              + "differs from the text encoder's hidden_size \(textEncoderConfig.hiddenSize)")
        }
        guard unet.config.inChannels == vae.config.latentChannels, unet.config.outChannels == vae.config.latentChannels else {
            throw UNetLoadError.invalidConfig(path: unetConfig, reason: "in/out_channels \(unet.config.inChannels)/"
                                              + "\(unet.config.outChannels) differ from the VAE's latent_channels \(vae.config.latentChannels)")
        }
    }

    /// The image size diffusers uses when none is given: the UNet's sample_size × the VAE factor
    /// (nil when the config has no sample_size).
    public var defaultImageSize: (height: Int, width: Int)? {
        unet.config.sampleSize.map { ($0[0] * vae.scaleFactor, $0[1] * vae.scaleFactor) }
    }

    /// The text encoder, loaded again from the folder if `releaseTextEncoder()` dropped it.
    public func textEncoder() throws -> CLIPTextModel {
        lock.lock()
        defer { lock.unlock() }
        if let loadedTextEncoder { return loadedTextEncoder }
        let model = try CLIPTextModel(directory: textEncoderDirectory, variant: variant)
        loadedTextEncoder = model
        return model
    }

    /// Drops the text encoder's weights (340 M parameters, 1.4 GB in Float32, for SD 2.x): sampling
    /// and decoding do not need them, and the UNet's activations and the VAE's at full resolution
    /// then fit where they were. `textEncoder()` loads them again when asked.
    public func releaseTextEncoder() {
        lock.lock()
        loadedTextEncoder = nil
        lock.unlock()
    }

    /// The text encoder's output for each prompt (`count × maxLength × hidden` floats) and, for
    /// each prompt longer than the tokenizer's length, what was cut off (diffusers warns with it).
    public func encode(_ prompts: [String]) throws -> (states: [Float], truncated: [(prompt: Int, text: String)]) {
        let tokens = prompts.map(tokenizer.encode)
        let truncated = tokens.enumerated().compactMap { i, t in t.droppedText.map { (prompt: i, text: $0) } }
        return (try textEncoder().encode(tokens.map(\.ids)), truncated)
    }

    /// The guided latent denoiser for `prompts` as a model to sample: sample i is conditioned on
    /// prompt `label` (the class label of the sampling pipeline), guided against `negative`
    /// (one negative prompt for all, or one per prompt; diffusers' default `""`) when `guidance > 1`.
    /// Releases the text encoder once every prompt is encoded (`releaseTextEncoder()`).
    public func model(prompts: [String], negative: [String] = [""], guidance: Double,
                      height: Int, width: Int) throws -> (model: LoadedModel, truncated: [(prompt: Int, text: String)]) {
        let f = vae.scaleFactor
        guard height > 0, width > 0, height % f == 0, width % f == 0 else {
            throw StableDiffusionError.imageSize(height: height, width: width, factor: f)
        }
        guard !prompts.isEmpty else { throw StableDiffusionError.noPrompt }
        guard negative.count == 1 || negative.count == prompts.count else {
            throw StableDiffusionError.negativeCount(negative.count, prompts: prompts.count)
        }
        guard guidance.isFinite, guidance >= 0 else { throw StableDiffusionError.guidance(guidance) }
        let (states, truncated) = try encode(prompts)
        let negativeStates = guidance > 1 ? try encode(negative).states : nil
        releaseTextEncoder()
        let denoiser = TextGuidedDenoiser(unet: unet, predictionType: predictionType,
                                          latentShape: [vae.config.latentChannels, height / f, width / f],
                                          sequenceLength: tokenizer.maxLength, hidden: textEncoderConfig.hiddenSize,
                                          prompts: states, negative: negativeStates, guidance: guidance)
        var defaults = SamplerOptions()
        defaults.ddimFinalAlphaBar = scheduler.ddimFinalAlphaBar(schedule)
        if let clip = scheduler.clipSample, clip { defaults.clipSampleRange = scheduler.clipSampleRange }
        let model = LoadedModel(name: directory.lastPathComponent, denoiser: denoiser, schedule: schedule, defaults: defaults)
        return (model, truncated)
    }

    /// Images (`batch × 3 × H × W`, nominally in [−1, 1]) from final latents: ÷ scaling_factor,
    /// then the VAE decoder (diffusers `vae.decode(latents / vae.config.scaling_factor)`).
    public func decode(_ latents: [Float], batch: Int, latentHeight: Int, latentWidth: Int) throws -> [Float] {
        let scale = Float(vae.config.scalingFactor)
        return try vae.decode(latents.map { $0 / scale }, batch: batch, height: latentHeight, width: latentWidth)
    }
}

public enum StableDiffusionError: Error, LocalizedError, Equatable {
    case imageSize(height: Int, width: Int, factor: Int)
    case noPrompt
    case negativeCount(Int, prompts: Int)
    case guidance(Double)
    case needsPrompt

    public var errorDescription: String? {
        switch self {
        case let .imageSize(h, w, f): "the image size \(h)×\(w) must be positive multiples of the VAE factor \(f)"
        case .noPrompt: "no prompt to condition on"
        case let .negativeCount(n, prompts): "\(n) negative prompts for \(prompts) prompts: give one, or one per prompt"
        case .guidance(let g): "the guidance scale must be a finite number ≥ 0, got \(g)"
        case .needsPrompt: "a text-conditioned model needs the index of each sample's prompt"
        }
    }
}

/// What one image costs, measured: one UNet evaluation (batch 1, a text condition of the
/// tokenizer's length) and one VAE decode at the requested size, with their FLOP counts
/// (`ForwardContext.flops`) and times, for `txt2img --dry-run`.
public struct StableDiffusionCost: Sendable {
    public var unetFLOPs: Int
    public var unetSeconds: Double
    public var decoderFLOPs: Int
    public var decoderSeconds: Double

    public init(_ sd: StableDiffusion, latentHeight: Int, latentWidth: Int) throws {
        let clock = ContinuousClock()
        let channels = sd.vae.config.latentChannels
        let latents = [Float](repeating: 0, count: channels * latentHeight * latentWidth)
        let states = [Float](repeating: 0, count: sd.tokenizer.maxLength * sd.textEncoderConfig.hiddenSize)
        var start = clock.now
        _ = try sd.unet(latents, batch: 1, height: latentHeight, width: latentWidth, timesteps: [Double(sd.schedule.trainSteps - 1)],
                        encoderHiddenStates: states, sequenceLength: sd.tokenizer.maxLength)
        unetSeconds = Self.seconds(clock.now - start)
        unetFLOPs = sd.unet.lastForwardFLOPs
        start = clock.now
        _ = try sd.vae.decode(latents, batch: 1, height: latentHeight, width: latentWidth)
        decoderSeconds = Self.seconds(clock.now - start)
        decoderFLOPs = sd.vae.lastForwardFLOPs
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
