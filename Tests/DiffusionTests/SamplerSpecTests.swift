import Diffusion
import Foundation
import Testing

/// The spec grammar: one parser, one printer, every validity rule in the library.
@Suite struct SamplerSpecTests {
    @Test(arguments: [
        "ddpm", "ddpm-naive", "skip", "ddim", "ddim:eta=0.5", "mix:cutoff=291", "mix:skip-steps=4", "dpmpp-2m", "dpmpp-2m-sde",
        "mix:cutoff=600:spacing=trailing", "mix:cutoff=291:spacing=[list:999,500,1]", "skip:spacing=[10,15,20]",
        "ddpm:spacing=leading+1:variance=fixed_large:clip=1", "skip:clip=none", "ddim:thresholding=0.995",
        "ddim:thresholding=0.9:thresholding-max=2", "skip:prediction=v_prediction",
        "skip:spacing=quadratic", "ddim:spacing=karras", "mix:cutoff=291:spacing=logsnr",
        "ddim:eta=1:eta-cutoff=291", "ddim:eta=1:eta-below=0.5:eta-cutoff=291:spacing=trailing", "ddim:eta-below=1:eta-cutoff=500",
        "pndm", "pndm:skip-prk=false", "pndm:skip-prk=false:spacing=leading+1:prediction=v_prediction",
    ])
    func canonicalTextsRoundTrip(text: String) throws {
        let spec = try SamplerSpec(parsing: text)
        #expect(spec.description == text)
        #expect(try SamplerSpec(parsing: spec.description) == spec)
        let json = try JSONEncoder().encode([spec])
        #expect(try JSONDecoder().decode([SamplerSpec].self, from: json) == [spec])
    }

    @Test func keysAreReadInAnyOrderAndPrintedCanonically() throws {
        let spec = try SamplerSpec(parsing: "mix:spacing=trailing:cutoff=600")
        #expect(spec.kind == .mix(.timestep(600)) && spec.spacing == .trailing)
        #expect(spec.description == "mix:cutoff=600:spacing=trailing")
        #expect(try SamplerSpec(parsing: "ddim:eta=0").description == "ddim")
        #expect(try SamplerSpec(parsing: "ddim:eta=0.50").description == "ddim:eta=0.5")
        #expect(try SamplerSpec(parsing: "pndm:skip-prk=true") == SamplerSpec(.pndm(skipPRK: true)))
        #expect(try SamplerSpec(parsing: "pndm:skip-prk=true").description == "pndm")
    }

    @Test func listsSplitOutsideBrackets() throws {
        let specs = try SamplerSpec.list(parsing: "ddim:eta=0.5, mix:cutoff=600:spacing=[list:999,500,1],skip")
        #expect(specs.map(\.description) == ["ddim:eta=0.5", "mix:cutoff=600:spacing=[list:999,500,1]", "skip"])
        #expect(specs[1].spacing == .list([999, 500, 1]))
    }

    @Test func displayNamesAreThePapers() throws {
        let names = try ["ddpm", "ddpm-naive", "skip", "ddim", "mix:cutoff=291", "dpmpp-2m", "ddim:eta=0.5", "mix:skip-steps=4:spacing=trailing",
                         "dpmpp-2m-sde:spacing=karras", "ddim:eta=1:eta-cutoff=291", "pndm", "pndm:skip-prk=false"]
            .map { try SamplerSpec(parsing: $0).displayName }
        #expect(names == ["DDPM", "DDPM (naive stride)", "Skipped-step", "DDIM", "Mix (t_c = 291)", "DPM-Solver++(2M)",
                          "DDIM (η = 0.5)", "Mix (k_c = 4, trailing)", "SDE-DPM-Solver++(2M) (karras)",
                          "DDIM (η = 1 for t ≥ 291, 0 below)", "PNDM", "PNDM (Runge–Kutta warm-up)"])
    }

    @Test(arguments: [
        ("euler", "unknown sampler 'euler'"),
        ("mix", "mix needs a cutoff"),
        ("skip:cutoff=5", "cutoff applies to mix only, not skip"),
        ("ddpm:eta=1", "eta applies to ddim only, not ddpm"),
        ("ddim:eta=-1", "eta must be a finite number ≥ 0"),
        ("ddim:eta=nan", "eta must be a finite number ≥ 0"),
        ("ddim:eta-below=1", "eta-below needs eta-cutoff"),
        ("skip:eta-cutoff=3", "eta-cutoff applies to ddim only, not skip"),
        ("ddim:eta-cutoff=-1", "eta-cutoff -1: expected a model index ≥ 0"),
        ("ddim:eta-below=-1:eta-cutoff=5", "eta-below -1: expected a finite number ≥ 0"),
        ("ddim:eta-cutoff=2.5", "eta-cutoff 2.5: expected an integer"),
        ("mix:cutoff=-3", "cutoff -3: expected a model index ≥ 0"),
        ("mix:cutoff=1:skip-steps=2", "either cutoff or skip-steps"),
        ("skip:spacing=sometimes", "spacing sometimes: expected uniform"),
        ("skip:variance=huge", "variance huge"),
        ("skip:clip=0", "clip 0: expected a range R > 0"),
        ("skip:thresholding=2", "thresholding 2: expected a quantile ratio in (0, 1]"),
        ("skip:eta", "'eta' is not KEY=VALUE"),
        ("skip:cutoff=1:cutoff=2", "given twice"),
        ("skip:spacing=[list:1,2", "unbalanced brackets"),
        ("skip::", "an empty part"),
        ("pndm:skip-prk=maybe", "skip-prk maybe: expected true or false"),
        ("ddim:skip-prk=false", "skip-prk applies to pndm only, not ddim"),
    ])
    func badSpecsAreRefusedByName(text: String, message: String) {
        let error = #expect(throws: SamplerSpecError.self) { try SamplerSpec(parsing: text) }
        #expect(error?.localizedDescription.contains(message) == true, "\(text): \(error?.localizedDescription ?? "")")
    }

    @Test func theLibraryDecidesValidityAgainstTheModel() throws {
        let schedule = try NoiseSchedule(.linear())
        func error(_ text: String, steps: Int = 10, learnsVariance: Bool = false) -> SamplerSpecError? {
            #expect(throws: SamplerSpecError.self) {
                try SamplerSpec(parsing: text).makeSampler(steps: steps, schedule: schedule, learnsVariance: learnsVariance)
            }
        }
        #expect(error("mix:cutoff=1000")?.key == .cutoff)
        #expect(error("mix:skip-steps=11")?.key == .skipSteps)
        #expect(error("ddim:eta=1:eta-cutoff=1000")?.key == .etaCutoff)
        #expect(error("skip", steps: 0)?.key == .steps)
        #expect(error("skip", steps: 1001)?.key == .steps)
        #expect(error("skip:spacing=ddim", steps: 600)?.key == .spacing)
        #expect(error("ddpm:variance=learned_range")?.key == .variance)
        // The Runge–Kutta warm-up needs four timesteps (as diffusers' prk_timesteps does); PLMS runs from one.
        #expect(error("pndm:skip-prk=false", steps: 3)?.key == .steps)
        #expect(try SamplerSpec(parsing: "pndm:skip-prk=false").makeSampler(steps: 4, schedule: schedule).steps.count == 13)
        #expect(try SamplerSpec(parsing: "pndm").makeSampler(steps: 1, schedule: schedule).steps.count == 1)
        #expect(try SamplerSpec(parsing: "pndm").makeSampler(steps: 25, schedule: schedule).steps.count == 26)
        // A spacing that repeats an index at this N is refused under the spacing key, naming it.
        let repeated = error("skip:spacing=karras", steps: 250)
        #expect(repeated?.key == .spacing)
        #expect(repeated?.localizedDescription.contains("karras spacing gives index") == true)
        #expect(try SamplerSpec(parsing: "skip:spacing=karras").makeSampler(steps: 10, schedule: schedule).timesteps
                == Spacing.karras.timesteps(schedule: schedule, steps: 10))
        _ = try SamplerSpec(parsing: "ddpm:variance=learned_range").makeSampler(steps: 10, schedule: schedule, learnsVariance: true)
        // A model's own options are checked too (a scheduler config's thresholding ratio).
        let bad = SamplerOptions(thresholding: Thresholding(ratio: 2))
        #expect(throws: SamplerSpecError.self) { try SamplerSpec(.skip).makeSampler(steps: 10, schedule: schedule, defaults: bad) }
        // Zero terminal SNR: an ε-model's x̂₀ is undefined at ᾱ = 0, a v-model's is not.
        let zsnr = try NoiseSchedule(.linear(), rescaleZeroTerminalSNR: true)
        #expect(throws: SamplerSpecError.zeroTerminalSNR(999)) {
            try SamplerSpec(.ddim(eta: 0), spacing: .trailing).makeSampler(steps: 10, schedule: zsnr)
        }
        _ = try SamplerSpec(.ddim(eta: 0), spacing: .trailing).makeSampler(steps: 10, schedule: zsnr, predictionType: .vPrediction)
        // σ above its valid range is an error, not a clamped coefficient.
        #expect(throws: SamplerError.self) { try SamplerSpec(.ddim(eta: 5)).makeSampler(steps: 10, schedule: schedule) }
    }

    @Test func optionsOverrideTheModelsDefaults() throws {
        let defaults = SamplerOptions(varianceType: .fixedLarge, clipSampleRange: 1)
        #expect(try SamplerSpec(parsing: "skip").options(over: defaults) == defaults)
        let off = try SamplerSpec(parsing: "skip:clip=none:variance=fixed_small:prediction=sample").options(over: defaults)
        #expect(off == SamplerOptions(varianceType: .fixedSmall, clipSampleRange: nil, predictionType: .sample))
    }

    /// guided-diffusion's section counts: `space_timesteps(1000, "10,15,20")` puts 10, 15 and 20
    /// steps in the thirds [0, 334), [334, 667), [667, 1000) (sizes 334, 333, 333; the first
    /// section's stride is 333/9 = 37), as respace.py computes them.
    @Test func sectionCountsSpaceEachSection() throws {
        let ts = try Spacing.sections([10, 15, 20]).timesteps(trainSteps: 1000, steps: 0)
        #expect(ts.count == 45)
        #expect(Array(ts.suffix(10).reversed()) == (0..<10).map { 37 * $0 })
        #expect(ts.first == 999)
        #expect(Spacing(parsing: "10,15,20") == .sections([10, 15, 20]))
        #expect(try Spacing.sections([25]).timesteps(trainSteps: 1000, steps: 0) == Spacing.uniform.timesteps(trainSteps: 1000, steps: 25))
        #expect(throws: ScheduleError.self) { try Spacing.sections([400, 1]).timesteps(trainSteps: 600, steps: 0) }
    }
}
