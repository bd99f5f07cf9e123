/// One completed step of a run.
public struct DenoisingStep: Sendable {
    /// The step that was taken (k, from s to p, its method and coefficients).
    public var step: PlannedStep
    /// The batch at index `step.to` (x₀ after the last step).
    public var x: [Float]
    /// x̂₀ predicted at `step.from`.
    public var predictedX0: [Float]
}

/// The denoising loop as a sequence of steps: the caller drives it, so progress, previews and
/// cancellation stay with the caller. Randomness follows ARCHITECTURE.md, Randomness: sample i has its own
/// generator; x_T is drawn from it first (unless given), then one standard-normal tensor of the
/// sample's shape for every step that adds noise, in step order — what a diffusers pipeline does
/// when handed a list of per-sample `torch.Generator`s.
public struct Denoising: Sendable, AsyncSequence, AsyncIteratorProtocol {
    public typealias Element = DenoisingStep

    /// The plan being run.
    public let sampler: Sampler
    /// The network evaluated at each step.
    public let denoiser: any Denoiser
    /// Samples in the batch.
    public let batch: Int
    /// One class label per sample for a class-conditional denoiser; nil for an unconditional one.
    public let classLabels: [Int]?
    /// The current batch (`batch × sampleCount` floats).
    public private(set) var x: [Float]
    private var generators: [any RandomSource]
    private var history = StepHistory()
    private var nextStep = 0

    /// Starts the loop at x_T.
    /// - Parameters:
    ///   - sampler: the plan to run.
    ///   - denoiser: the network, evaluated once per step on the whole batch.
    ///   - generators: one random source per sample of the batch.
    ///   - initialNoise: x_T for the whole batch; drawn from the generators when nil.
    ///   - classLabels: one label per sample, required by (and only by) a class-conditional denoiser.
    public init(sampler: Sampler, denoiser: any Denoiser, generators: [any RandomSource],
                initialNoise: [Float]? = nil, classLabels: [Int]? = nil) throws {
        let d = denoiser.sampleCount
        guard initialNoise == nil || initialNoise?.count == generators.count * d else {
            throw SamplerError.inputSize("x_T holds \(initialNoise?.count ?? 0) values, expected \(generators.count) samples of \(d)")
        }
        try ClassLabels.check(classLabels, classCount: denoiser.classCount, samples: generators.count)
        self.classLabels = classLabels
        self.sampler = sampler
        self.denoiser = denoiser
        self.batch = generators.count
        self.generators = generators
        if let initialNoise {
            x = initialNoise
        } else {
            var x = [Float](repeating: 0, count: generators.count * d)
            Self.draw(into: &x, sampleCount: d, from: &self.generators)
            if sampler.initialNoiseScale != 1 {
                let scale = Float(sampler.initialNoiseScale)
                for i in x.indices { x[i] *= scale }
            }
            self.x = x
        }
    }

    /// Takes the next step, or returns nil when the run is complete (the synchronous form of `next()`).
    public mutating func advance() throws -> DenoisingStep? {
        guard nextStep < sampler.steps.count else { return nil }
        let step = sampler.steps[nextStep]
        let d = denoiser.sampleCount
        let output = try denoiser.predict(x, batch: batch, timestep: step.time, classLabels: classLabels)
        var noise: [Float]?
        if step.drawsNoise {
            var z = [Float](repeating: 0, count: x.count)
            Self.draw(into: &z, sampleCount: d, from: &generators)
            noise = z
        }
        let x0 = try sampler.apply(step, to: &x, modelOutput: output,
                                   predictionType: denoiser.predictionType, sampleCount: d,
                                   history: &history, noise: noise)
        nextStep += 1
        return DenoisingStep(step: step, x: x, predictedX0: x0)
    }

    /// Runs every remaining step and returns x₀.
    public mutating func run() throws -> [Float] {
        while try advance() != nil {}
        return x
    }

    public mutating func next() async throws -> DenoisingStep? {
        try Task.checkCancellation()
        return try advance()
    }

    public func makeAsyncIterator() -> Denoising { self }

    private static func draw(into buffer: inout [Float], sampleCount d: Int, from generators: inout [any RandomSource]) {
        buffer.withUnsafeMutableBufferPointer { all in
            for i in generators.indices {
                generators[i].fillStandardNormal(UnsafeMutableBufferPointer(rebasing: all[(i * d)..<((i + 1) * d)]))
            }
        }
    }
}
