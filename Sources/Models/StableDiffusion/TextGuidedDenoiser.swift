import Diffusion

/// A text-conditioned latent UNet as a `Denoiser`, with classifier-free guidance (diffusers
/// pipeline_stable_diffusion.py `__call__`): for guidance g > 1 one UNet call on
/// [x, x] with [negative, prompt] states, then `uncond + g·(text − uncond)` on the raw output
/// (ε or v); for g ≤ 1 one call with the prompt states alone. Every sampler runs on it unchanged.
/// Each sample's prompt is chosen by its class label (an index into `prompts`), so one run can
/// hold many prompts.
public struct TextGuidedDenoiser: Denoiser {
    public let unet: UNet2DConditionModel
    public let predictionType: PredictionType
    public let sampleShape: [Int]
    public let sequenceLength: Int
    public let hidden: Int
    /// The encoder states of each prompt (`prompts × sequenceLength × hidden`).
    public let prompts: [Float]
    /// The negative states: one for all prompts or one per prompt; nil without guidance.
    public let negative: [Float]?
    public let guidance: Double

    public init(unet: UNet2DConditionModel, predictionType: PredictionType, latentShape: [Int], sequenceLength: Int,
                hidden: Int, prompts: [Float], negative: [Float]?, guidance: Double) {
        self.unet = unet
        self.predictionType = predictionType
        self.sampleShape = latentShape
        self.sequenceLength = sequenceLength
        self.hidden = hidden
        self.prompts = prompts
        self.negative = guidance > 1 ? negative : nil
        self.guidance = guidance
    }

    var stateCount: Int { sequenceLength * hidden }
    public var classCount: Int? { prompts.count / stateCount }
    public var isGuided: Bool { negative != nil }

    public func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float] {
        throw StableDiffusionError.needsPrompt
    }

    public func predict(_ x: [Float], batch: Int, timestep: Double, classLabels: [Int]?) throws -> [Float] {
        guard let labels = classLabels else { throw StableDiffusionError.needsPrompt }
        try ClassLabels.check(labels, classCount: classCount, samples: batch)
        let n = stateCount
        func states(_ table: [Float], _ i: Int) -> ArraySlice<Float> {
            let row = table.count == n ? 0 : i
            return table[(row * n)..<((row + 1) * n)]
        }
        var context: [Float] = []
        let (h, w) = (sampleShape[1], sampleShape[2])
        guard let negative else {
            context.reserveCapacity(batch * n)
            for label in labels { context += states(prompts, label) }
            return try unet(x, batch: batch, height: h, width: w, timesteps: Array(repeating: timestep, count: batch),
                            encoderHiddenStates: context, sequenceLength: sequenceLength)
        }
        context.reserveCapacity(2 * batch * n)
        for label in labels { context += states(negative, label) }
        for label in labels { context += states(prompts, label) }
        let out = try unet(x + x, batch: 2 * batch, height: h, width: w, timesteps: Array(repeating: timestep, count: 2 * batch),
                           encoderHiddenStates: context, sequenceLength: sequenceLength)
        let half = out.count / 2, g = Float(guidance)
        return (0..<half).map { i in out[i] + g * (out[half + i] - out[i]) }
    }
}
