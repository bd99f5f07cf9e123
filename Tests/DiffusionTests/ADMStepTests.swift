import Diffusion
import Foundation
import Testing
import TestSupport

/// guided-diffusion @22e0df8's respaced p_sample / ddim_sample (learned range, class labels,
/// clipping) against skipstep's samplers on a stand-in network (Tests/Fixtures/adm/steps.*,
/// tools/make_adm_fixtures.py `make_steps`), and its `space_timesteps` against `respace:` spacings.
@Suite struct ADMStepTests {
    struct Blob: Decodable { var offset: Int; var count: Int; var shape: [Int] }
    struct Case: Decodable {
        var name: String; var schedule: String; var kind: String; var index: Int; var clip: Bool; var eta: Double
        var input: Blob; var noise: Blob?; var output: Blob; var pred_xstart: Blob?
    }
    struct Goldens: Decodable { var cases: [Case]; var labels: [Int]; var seeds: [UInt64] }

    /// eps = 0.5·x + 0.1·y, v = tanh(x): `fake_model_output` of the script, in Float32.
    struct StandIn: Denoiser {
        var sampleShape: [Int] { [3, 8, 8] }
        var predictionType: PredictionType { .epsilon }
        var learnsVariance: Bool { true }
        var classCount: Int? { 10 }
        func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float] { throw ClassLabelError.missing(count: 10) }
        func predict(_ x: [Float], batch: Int, timestep: Double, classLabels: [Int]?) throws -> [Float] {
            let d = sampleCount
            var out: [Float] = []
            for b in 0..<batch {
                let y = Float(classLabels![b])
                out += x[(b * d)..<((b + 1) * d)].map { Float(0.5) * $0 + Float(0.1) * y }
                out += x[(b * d)..<((b + 1) * d)].map { tanh($0) }
            }
            return out
        }
    }

    static let goldens = try! Fixtures.json(Goldens.self, "adm/steps.json")
    static let data = try! Data(contentsOf: Fixtures.url("adm/steps.bin"))

    static func floats(_ t: Blob) -> [Float] {
        data.withUnsafeBytes { raw in
            (0..<t.count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: t.offset + 4 * $0, as: UInt32.self))) }
        }
    }

    static func sampler(_ c: Case) throws -> Sampler {
        let schedule = try NoiseSchedule(c.schedule == "linear" ? .guidedLinear : .squaredCosCapV2, trainSteps: 1000)
        let ts = try #require(Spacing(parsing: "respace:10")).timesteps(trainSteps: 1000, steps: 99)
        return try Sampler(c.kind.hasPrefix("ddpm") ? .ddpm : .ddim(eta: c.eta), schedule: schedule, timesteps: ts,
                           options: SamplerOptions(varianceType: .learnedRange, clipSampleRange: c.clip ? 1 : nil))
    }

    @Test func singleStepsMatchGuidedDiffusion() throws {
        let singles = Self.goldens.cases.filter { $0.index >= 0 }
        #expect(singles.count == 2 * 10 * 2 * 3)
        var worst = (0.0, "")
        for c in singles {
            let sampler = try Self.sampler(c)
            let step = sampler.steps[9 - c.index]  // guided-diffusion's respaced index k is skipstep's step N − k
            var x = Self.floats(c.input)
            let output = try StandIn().predict(x, batch: 2, timestep: Double(step.from), classLabels: Self.goldens.labels)
            let x0 = try sampler.apply(step, to: &x, modelOutput: output, predictionType: .epsilon, sampleCount: 192,
                                       noise: step.drawsNoise ? Self.floats(c.noise!) : nil)
            for (error, what) in [(relativeL2(x, Self.floats(c.output)), "sample"),
                                  (relativeL2(x0, Self.floats(c.pred_xstart!)), "pred_xstart")] where error > worst.0 {
                worst = (error, "\(c.name) \(what)")
            }
        }
        print("ADM single steps: worst relative L2 \(worst.0) (\(worst.1))")
        #expect(worst.0 <= 1e-5, "\(worst.1): relative L2 \(worst.0)")
    }

    /// 10-step "10" loops (p_sample with the learned range, ddim η = 1; clipped; labels 3 and 7),
    /// x_T and noise from per-sample torch generators as `--rng torch` draws them.
    @Test func tenStepLoopsMatchGuidedDiffusion() throws {
        let loops = Self.goldens.cases.filter { $0.index < 0 }
        #expect(loops.count == 4)
        for c in loops {
            var run = try Denoising(sampler: try Self.sampler(c), denoiser: StandIn(),
                                    generators: Self.goldens.seeds.map { TorchGenerator(seed: $0) },
                                    classLabels: Self.goldens.labels)
            #expect(relativeL2(run.x, Self.floats(c.input)) == 0, "\(c.name): x_T")
            let error = relativeL2(try run.run(), Self.floats(c.output))
            print("ADM \(c.name): relative L2 \(error)")
            #expect(error <= 1e-3, "\(c.name): relative L2 \(error)")
        }
    }

    /// Issue 19's reading of the paper on ADM, in Float64 on every step that adds noise (k ≥ 1): the
    /// learned range at v ≡ −1 is skipped-step (Algorithm 2), at v ≡ +1 respaced fixed_large, both as
    /// the update x' = A·x + B·ε̂ + σ·z (x̂₀ = (x − √(1−a_s)·ε̂)/√a_s); the last step adds no noise in
    /// either. guided-diffusion's FIXED_LARGE uses β̃₁ at k = 0, which draws no noise here.
    @Test(arguments: ["linear", "cosine"], ["respace:25", "respace:10+15+20", "respace:ddim25", "respace:1000"])
    func learnedRangeEndsAreSkippedStepAndFixedLarge(schedule name: String, spacing: String) throws {
        let schedule = try NoiseSchedule(name == "linear" ? .guidedLinear : .squaredCosCapV2, trainSteps: 1000)
        let ts = try #require(Spacing(parsing: spacing)).timesteps(trainSteps: 1000, steps: 1)
        func sampler(_ kind: SamplerKind, _ variance: VarianceType) throws -> Sampler {
            try Sampler(kind, schedule: schedule, timesteps: ts, options: SamplerOptions(varianceType: variance))
        }
        let learned = try sampler(.ddpm, .learnedRange), skip = try sampler(.skip, .fixedSmall)
        let large = try sampler(.ddpm, .fixedLarge)
        func update(_ step: PlannedStep, v: Double) -> (a: Double, b: Double, sigma: Double) {
            let a = schedule.alphaBar(step.from), c = step.coefficients
            let sigma = step.drawsNoise ? c.noiseStd(varianceValue: v) : 0
            return (c.x + c.x0 / a.squareRoot(), c.eps - c.x0 * (1 - a).squareRoot() / a.squareRoot(), sigma)
        }
        func relative(_ x: Double, _ y: Double) -> Double { abs(x - y) / max(abs(y), 1e-300) }
        var worst = 0.0, noisy = 0
        for k in learned.steps.indices {
            let l = learned.steps[k]
            #expect(l.from == skip.steps[k].from && l.to == skip.steps[k].to)
            #expect(l.drawsNoise == (l.to >= 0) && skip.steps[k].drawsNoise == (l.to >= 0))
            guard l.to >= 0 else { continue }
            noisy += 1
            let minus = update(l, v: -1), plus = update(l, v: 1)
            let s = update(skip.steps[k], v: 0), f = update(large.steps[k], v: 0)
            for (x, y) in [(minus.a, s.a), (minus.b, s.b), (minus.sigma, s.sigma), (plus.a, f.a), (plus.b, f.b), (plus.sigma, f.sigma)] {
                worst = max(worst, relative(x, y))
            }
        }
        #expect(noisy == ts.count - 1)
        #expect(worst <= 1e-12, "\(name) \(spacing): relative difference \(worst)")
    }

    @Test func respacingStringsEqualSpaceTimesteps() throws {
        let tables = try Fixtures.json([String: [Int]].self, "adm/respace.json")
        #expect(tables.count == 18)
        for (key, expected) in tables {
            let parts = key.split(separator: ":", maxSplits: 1)
            let t = Int(parts[0])!, text = "respace:" + parts[1].replacingOccurrences(of: ",", with: "+")
            let spacing = try #require(Spacing(parsing: text), "\(text)")
            #expect(spacing.description == text)
            #expect(try spacing.timesteps(trainSteps: t, steps: 1).reversed() == expected, "\(key)")
        }
    }

    @Test func respacingErrors() throws {
        #expect(Spacing(parsing: "respace:") == nil)
        #expect(Spacing(parsing: "respace:ddim") == nil)
        #expect(Spacing(parsing: "respace:10+0") == nil)
        #expect(Spacing(parsing: "respace:10,15") == nil)
        // An impossible ddimN is reported by N (guided-diffusion prints T).
        #expect(throws: ScheduleError.impossibleDDIMStride(steps: 999, trainSteps: 1000)) {
            try Spacing(parsing: "respace:ddim999")!.timesteps(trainSteps: 1000, steps: 1)
        }
        let spec = try SamplerSpec(parsing: "ddpm:spacing=[respace:10+15+20]")
        #expect(spec.description == "ddpm:spacing=[respace:10+15+20]")
        #expect(try spec.timesteps(steps: 5, schedule: NoiseSchedule(.linear())).count == 45)
    }

    @Test func labelsDoNotMoveTheNoise() throws {
        let c = Self.goldens.cases.first { $0.index < 0 }!
        func run(_ labels: [Int]) throws -> (xT: [Float], x0: [Float]) {
            var run = try Denoising(sampler: try Self.sampler(c), denoiser: StandIn(),
                                    generators: Self.goldens.seeds.map { TorchGenerator(seed: $0) }, classLabels: labels)
            return (run.x, try run.run())
        }
        let a = try run([3, 7]), b = try run([0, 9])
        #expect(a.xT == b.xT)
        #expect(a.x0 != b.x0)
        #expect(throws: ClassLabelError.missing(count: 10)) {
            try Denoising(sampler: try Self.sampler(c), denoiser: StandIn(), generators: [TorchGenerator(seed: 0)])
        }
    }

    @Test func randomLabelsComeFromTheirOwnStream() throws {
        let labels = try ClassChoice.random.labels(for: 0..<64, seed: 5, classCount: 1000)
        #expect(try ClassChoice.random.labels(for: 10..<20, seed: 5, classCount: 1000) == Array(labels[10..<20]))
        #expect(Set(labels).count > 50)
        #expect(try ClassChoice.random.labels(for: 0..<64, seed: 6, classCount: 1000) != labels)
        #expect(throws: ClassLabelError.outOfRange(10, count: 10)) { try ClassChoice.fixed(10).labels(for: 0..<1, seed: 0, classCount: 10) }
        #expect(throws: ClassLabelError.unconditional) { try ClassChoice.fixed(1).labels(for: 0..<1, seed: 0, classCount: nil) }
    }
}
