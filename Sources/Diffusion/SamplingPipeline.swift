/// A model ready to sample: its denoiser, its own training schedule and sampler defaults, and,
/// when the distribution it denoises is known in closed form (the oracle), that distribution.
public struct LoadedModel: Sendable {
    /// The name it was loaded as (a built-in name, a path or ORG/NAME).
    public var name: String
    /// The network.
    public var denoiser: any Denoiser
    /// The training noise schedule.
    public var schedule: NoiseSchedule
    /// The scheduler config's options (variance, clipping, thresholding, prediction type).
    public var defaults: SamplerOptions
    /// The exact data distribution, for models that have one: exact samples and exact metrics.
    public var exact: (any ExactDistribution)?
    /// The path of the file the weights were read from, recorded in sample files' provenance
    /// (Diffusion never opens it); nil for models made in memory.
    public var weightsPath: String?

    /// A model from its parts; `exact` for a model whose distribution is known in closed form.
    public init(name: String, denoiser: any Denoiser, schedule: NoiseSchedule, defaults: SamplerOptions,
                exact: (any ExactDistribution)? = nil, weightsPath: String? = nil) {
        self.weightsPath = weightsPath
        self.name = name
        self.denoiser = denoiser
        self.schedule = schedule
        self.defaults = defaults
        self.exact = exact
    }

    /// `spec` checked against this model and bound to its schedule (`SamplerSpec.makeSampler`).
    public func makeSampler(_ spec: SamplerSpec, steps: Int, defaultSpacing: Spacing = .uniform) throws -> Sampler {
        try spec.makeSampler(steps: steps, schedule: schedule, defaults: defaults,
                             predictionType: denoiser.predictionType, learnsVariance: denoiser.learnsVariance,
                             defaultSpacing: defaultSpacing)
    }
}

/// A data distribution known in closed form (a capability of the oracle models): exact samples,
/// moments and log-density, so sampler error can be measured without network error.
public protocol ExactDistribution: Sendable {
    /// Values per sample.
    var dimension: Int { get }
    /// The mean (D) and covariance (D × D, row-major) of the distribution.
    var mean: [Double] { get }
    var covariance: [Double] { get }
    /// `count` exact samples; sample i from its own generator seeded with seed + i.
    func samples(count: Int, seed: UInt64, kind: RandomKind) -> [Float]
    /// log p(x) of `batch` samples.
    func logDensity(_ x: [Double], batch: Int) throws -> [Double]
}

/// Where a run stands, for progress lines.
public struct SamplingProgress: Sendable {
    /// The samples of the batch being computed.
    public var samples: Range<Int>
    /// Steps finished in this batch, and its number of steps.
    public var step: Int
    /// The number of steps of the batch.
    public var steps: Int
    /// The step just taken.
    public var timestep: Int
}

/// The one sampling loop of the library: a model, a sampler and seeds in, finished samples out,
/// `batch` at a time. Sample i draws x_T and its noise from its own generator seeded with
/// seed + i (docs/ARCHITECTURE.md, "Randomness"), so a sample does not depend on the batch it was
/// computed in, the batch size or the process: `sample`, `sweep` and its shards all call this.
/// A class-conditional model needs `classes`: one class for every sample, or `random` labels from
/// each sample's own label stream (`ClassLabels`), which leaves x_T and the noise unchanged.
public struct SamplingPipeline: Sendable {
    /// The model sampled.
    public let model: LoadedModel
    /// The plan every batch runs.
    public let sampler: Sampler
    /// The seed of sample 0; sample i uses seed + i.
    public let seed: UInt64
    /// The random generator of every sample.
    public let rng: RandomKind
    /// Samples per network call.
    public let batch: Int
    /// The class labels of a class-conditional model; nil for an unconditional one.
    public let classes: ClassChoice?

    /// A pipeline for `model` running `sampler`; sample i is drawn from a generator seeded with
    /// `seed + i`. Throws for a batch below 1, or class labels that do not fit the model (a
    /// class-conditional model needs them, an unconditional one refuses them).
    public init(model: LoadedModel, sampler: Sampler, seed: UInt64, rng: RandomKind = .philox, batch: Int,
                classes: ClassChoice? = nil) throws {
        guard batch >= 1 else { throw SamplerError.inputSize("the batch must hold at least 1 sample, got \(batch)") }
        if classes == nil, let count = model.denoiser.classCount { throw ClassLabelError.missing(count: count) }
        _ = try classes?.labels(for: 0..<1, seed: seed, classCount: model.denoiser.classCount)
        self.classes = classes
        self.model = model
        self.sampler = sampler
        self.seed = seed
        self.rng = rng
        self.batch = batch
    }

    /// Samples `indices` batch by batch, handing each finished batch (`count × sampleCount` floats)
    /// to `receive` in order.
    /// - Parameters:
    ///   - indices: the sample indices, whose seeds are `seed + index`.
    ///   - initialNoise: x_T of every sample of `indices`, instead of drawing it.
    ///   - progress: called after every step of every batch.
    ///   - receive: called with each finished batch's indices and samples.
    public func run(_ indices: Range<Int>, initialNoise: [Float]? = nil,
                    progress: (SamplingProgress) -> Void = { _ in },
                    receive: (Range<Int>, [Float]) throws -> Void) async throws {
        let d = model.denoiser.sampleCount
        guard initialNoise == nil || initialNoise?.count == indices.count * d else {
            throw SamplerError.inputSize("x_T holds \(initialNoise?.count ?? 0) values, expected \(indices.count) samples of \(d)")
        }
        for first in stride(from: indices.lowerBound, to: indices.upperBound, by: batch) {
            let part = first..<min(first + batch, indices.upperBound)
            let generators = part.map { rng.makeSource(seed: seed &+ UInt64(truncatingIfNeeded: $0)) }
            let offset = first - indices.lowerBound
            var run = try Denoising(sampler: sampler, denoiser: model.denoiser, generators: generators,
                                    initialNoise: initialNoise.map { Array($0[(offset * d)..<((offset + part.count) * d)]) },
                                    classLabels: classLabels(part))
            while let step = try await run.next() {
                progress(SamplingProgress(samples: part, step: step.step.index + 1, steps: sampler.steps.count,
                                          timestep: step.step.from))
            }
            try receive(part, run.x)
        }
    }

    /// The class labels of the samples `indices` (nil for an unconditional model).
    public func classLabels(_ indices: Range<Int>) throws -> [Int]? {
        try classes.map { try $0.labels(for: indices, seed: seed, classCount: model.denoiser.classCount) }
    }

    /// Samples `indices` and returns them together.
    public func samples(_ indices: Range<Int>, initialNoise: [Float]? = nil,
                        progress: (SamplingProgress) -> Void = { _ in }) async throws -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(indices.count * model.denoiser.sampleCount)
        try await run(indices, initialNoise: initialNoise, progress: progress) { _, x in out += x }
        return out
    }
}
