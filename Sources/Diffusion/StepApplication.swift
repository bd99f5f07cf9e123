import Foundation

/// What the multistep samplers read from earlier steps of a run: the previous step's x̂₀
/// (DPM-Solver++ 2M, Restart's corrector) and, for PNDM's combinations (`OutputCombination`), the
/// network outputs and inputs of the steps a later step names. `Sampler.apply(_:to:modelOutput:predictionType:sampleCount:history:noise:)`
/// records what later steps need and drops what none needs any more (at most four outputs and one input for PNDM).
public struct StepHistory: Sendable {
    /// x̂₀ of the previous step, or nil before the first.
    public var previousX0: [Float]?
    /// Network outputs of earlier steps, by step index.
    var outputs: [Int: [Float]] = [:]
    /// Inputs x of earlier steps, by step index.
    var inputs: [Int: [Float]] = [:]

    /// An empty history, or one holding the previous step's x̂₀.
    public init(previousX0: [Float]? = nil) {
        self.previousX0 = previousX0
    }
}

extension Sampler {
    /// Applies step `step` in place like ``apply(_:to:modelOutput:predictionType:sampleCount:previousX0:noise:)``,
    /// reading what a multistep step needs from `history` (the previous x̂₀; for a PNDM step the
    /// outputs and input of the earlier steps it combines) and recording in it what later steps of
    /// this plan will read. Returns x̂₀.
    public func apply(_ step: PlannedStep, to x: inout [Float], modelOutput: [Float],
                      predictionType: PredictionType, sampleCount d: Int,
                      history: inout StepHistory, noise: [Float]? = nil) throws -> [Float] {
        let input = x
        let x0: [Float]
        if let combination = step.combination {
            x0 = try applyCombination(step, combination, to: &x, modelOutput: modelOutput, predictionType: predictionType,
                                      sampleCount: d, history: history)
        } else {
            x0 = try apply(step, to: &x, modelOutput: modelOutput, predictionType: predictionType, sampleCount: d,
                           previousX0: history.previousX0, noise: noise)
        }
        history.previousX0 = x0
        if outputLastUse[step.index] != nil { history.outputs[step.index] = modelOutput }
        if inputLastUse[step.index] != nil { history.inputs[step.index] = input }
        history.outputs = history.outputs.filter { (outputLastUse[$0.key] ?? -1) > step.index }
        history.inputs = history.inputs.filter { (inputLastUse[$0.key] ?? -1) > step.index }
        return x0
    }

    /// A PNDM step: output = Σ weight_j·o_j (in Float64, rounded once, as diffusers combines in the
    /// model's precision), then the step's coefficients from the input of step `sampleOf`, with the
    /// output read at ᾱ[`from`].
    private func applyCombination(_ step: PlannedStep, _ combination: OutputCombination, to x: inout [Float],
                                  modelOutput: [Float], predictionType: PredictionType, sampleCount d: Int,
                                  history: StepHistory) throws -> [Float] {
        var outputs: [(values: [Float], weight: Double)] = []
        for term in combination.terms {
            guard let values = term.step == step.index ? modelOutput : history.outputs[term.step] else {
                throw SamplerError.inputSize("step \(step.index + 1) combines the network output of step \(term.step + 1), "
                                             + "which the history does not hold (run the plan's steps in order)")
            }
            guard values.count == modelOutput.count else {
                throw SamplerError.outputSize(expected: modelOutput.count, actual: values.count)
            }
            outputs.append((values, term.weight))
        }
        guard var sample = combination.sampleOf == step.index ? x : history.inputs[combination.sampleOf] else {
            throw SamplerError.inputSize("step \(step.index + 1) starts from the input of step \(combination.sampleOf + 1), "
                                         + "which the history does not hold (run the plan's steps in order)")
        }
        guard sample.count == x.count else {
            throw SamplerError.inputSize("the input of step \(combination.sampleOf + 1) holds \(sample.count) values, x \(x.count)")
        }
        var combined = [Float](repeating: 0, count: modelOutput.count)
        for i in combined.indices {
            var sum = 0.0
            for output in outputs { sum += output.weight * Double(output.values[i]) }
            combined[i] = Float(sum)
        }
        var core = step
        core.time = Double(step.from)
        core.combination = nil
        let x0 = try apply(core, to: &sample, modelOutput: combined, predictionType: predictionType, sampleCount: d)
        x = sample
        return x0
    }

    /// Applies step `step` to a batch in place and returns x̂₀ (after clipping or thresholding).
    ///
    /// - Parameters:
    ///   - step: the planned step to apply.
    ///   - x: `batch × sampleCount` floats at index `step.from`; replaced by the sample at `step.to`.
    ///   - modelOutput: the denoiser's output at `step.from` (`2 × sampleCount` per sample with a
    ///     learned variance: prediction channels first, then the variance value v ∈ [−1, 1]).
    ///   - predictionType: how to read the model output (ε, x₀ or v).
    ///   - d: the number of floats in one sample.
    ///   - previousX0: x̂₀ of the previous step (DPM-Solver++ 2M history), or nil.
    ///   - noise: one standard normal per element when `step.drawsNoise`, else nil.
    /// The model output is turned into a consistent pair (x̂₀, ε̂) in Float64: ε̂ = output (epsilon),
    /// x̂₀ = output (sample), or x̂₀ = √a·x − √(1−a)·v, ε̂ = √a·v + √(1−a)·x (v_prediction). When x̂₀
    /// is clipped or thresholded, ε̂ is re-derived from it, as diffusers DDIM does with
    /// `use_clipped_model_output=True`, so every update sees the same (x̂₀, ε̂).
    public func apply(_ step: PlannedStep, to x: inout [Float], modelOutput: [Float],
                      predictionType: PredictionType, sampleCount d: Int,
                      previousX0: [Float]? = nil, noise: [Float]? = nil) throws -> [Float] {
        guard step.combination == nil else {
            throw SamplerError.inputSize("step \(step.index + 1) combines earlier network outputs (PNDM): apply it with a StepHistory")
        }
        let batch = x.count / d
        let learned = step.coefficients.logVarianceMin != nil
        let outputStride = modelOutput.count == 2 * x.count ? 2 * d : d
        guard modelOutput.count == x.count || modelOutput.count == 2 * x.count else {
            throw SamplerError.outputSize(expected: x.count, actual: modelOutput.count)
        }
        guard d > 0, x.count == batch * d else {
            throw SamplerError.inputSize("x holds \(x.count) values, not a whole number of \(d)-value samples")
        }
        guard !step.drawsNoise || noise?.count == x.count else {
            throw SamplerError.inputSize("step \(step.index + 1) adds noise: it needs \(x.count) standard normals")
        }
        guard !learned || outputStride == 2 * d else {
            throw SamplerError.outputSize(expected: 2 * x.count, actual: modelOutput.count)
        }
        guard step.coefficients.previousX0 == 0 || previousX0?.count == x.count else {
            throw SamplerError.inputSize("step \(step.index + 1) is a multistep update: it needs the previous step's x̂₀")
        }

        let aS = schedule.alphaBar(atTime: step.time)
        let sqA = aS.squareRoot(), sqB = (1 - aS).squareRoot()
        let c = step.coefficients
        var predictedX0 = [Float](repeating: 0, count: x.count)
        var x0 = [Double](repeating: 0, count: d)
        var eps = [Double](repeating: 0, count: d)
        for b in 0..<batch {
            let base = b * d, outBase = b * outputStride
            for i in 0..<d {
                let xv = Double(x[base + i]), out = Double(modelOutput[outBase + i])
                switch options.predictionType ?? predictionType {
                case .epsilon:
                    eps[i] = out
                    x0[i] = (xv - sqB * out) / sqA
                case .sample:
                    x0[i] = out
                    eps[i] = (xv - sqA * out) / sqB
                case .vPrediction:
                    x0[i] = sqA * xv - sqB * out
                    eps[i] = sqA * out + sqB * xv
                }
            }
            if limitX0(&x0) {
                for i in 0..<d { eps[i] = (Double(x[base + i]) - sqA * x0[i]) / sqB }
            }
            for i in 0..<d {
                var next = c.x * Double(x[base + i]) + c.x0 * x0[i] + c.eps * eps[i]
                if c.previousX0 != 0, let previousX0 { next += c.previousX0 * Double(previousX0[base + i]) }
                if step.drawsNoise, let noise {
                    let std = learned ? c.noiseStd(varianceValue: Double(modelOutput[outBase + d + i])) : c.noiseStd
                    next += std * Double(noise[base + i])
                }
                x[base + i] = Float(next)
                predictedX0[base + i] = Float(x0[i])
            }
        }
        return predictedX0
    }

    /// Clips or dynamically thresholds one sample's x̂₀; returns whether anything was configured.
    func limitX0(_ x0: inout [Double]) -> Bool {
        if let t = options.thresholding {
            // diffusers `_threshold_sample`: s = quantile(|x̂₀|, ratio) (linear interpolation, as
            // torch.quantile) clamped to [1, max], then x̂₀ = clamp(x̂₀, −s, s)/s.
            let sorted = x0.map(abs).sorted()
            let position = t.ratio * Double(sorted.count - 1)
            let lo = Int(position.rounded(.down)), hi = Int(position.rounded(.up))
            let q = sorted[lo] + (sorted[hi] - sorted[lo]) * (position - Double(lo))
            let s = min(max(q, 1), t.maxValue)
            for i in x0.indices { x0[i] = min(max(x0[i], -s), s) / s }
            return true
        }
        if let range = options.clipSampleRange {
            for i in x0.indices { x0[i] = min(max(x0[i], -range), range) }
            return true
        }
        return false
    }
}
