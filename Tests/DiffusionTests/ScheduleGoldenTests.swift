import Foundation
import Testing
import TestSupport
@testable import Diffusion

/// Spacings and beta tables against the values guided-diffusion and diffusers produced
/// (Tests/Fixtures/schedulers, made by tools/make_goldens.py).
@Suite struct ScheduleGoldenTests {
    struct SpacingCase: Decodable, CustomTestStringConvertible {
        var source: String, spacing: String, T: Int, N: Int
        var steps_offset: Int
        var timesteps: [Int]?
        var error: String?
        var testDescription: String { "\(spacing) T=\(T) N=\(N) offset \(steps_offset)" }
    }
    struct SpacingFile: Decodable { var cases: [SpacingCase] }

    static func spacingCases() throws -> [SpacingCase] {
        try Fixtures.json(SpacingFile.self, "schedulers/spacings.json").cases
    }

    @Test func spacingsMatchTheirSources() throws {
        let cases = try Self.spacingCases()
        #expect(cases.count > 100)
        for c in cases {
            let spacing: Spacing
            switch c.spacing {
            case "uniform": spacing = .uniform
            case "ddim": spacing = .ddim
            case "leading": spacing = .leading(offset: c.steps_offset)
            case "trailing": spacing = .trailing
            case "linspace": spacing = .linspace
            case "dpm_linspace": spacing = .dpmLinspace
            default:
                Issue.record("unknown spacing \(c.spacing)")
                continue
            }
            // Where the library itself yields an index outside [0, T) or a repeated index
            // (diffusers leading+offset at N = T; DPM-Solver at N close to T), we refuse instead.
            if let expected = c.timesteps, expected.allSatisfy({ (0..<c.T).contains($0) }),
               Set(expected).count == expected.count {
                #expect(try spacing.timesteps(trainSteps: c.T, steps: c.N) == expected, "\(c.testDescription)")
            } else {
                #expect(throws: ScheduleError.self, "\(c.testDescription): \(c.error ?? "")") {
                    try spacing.timesteps(trainSteps: c.T, steps: c.N)
                }
            }
        }
    }

    @Test func documentedUniformExamples() throws {
        let ts25 = try Spacing.uniform.timesteps(trainSteps: 1000, steps: 25)
        #expect(ts25.reversed().prefix(9) == [0, 42, 83, 125, 166, 208, 250, 291, 333])
        #expect(try Spacing.uniform.timesteps(trainSteps: 1000, steps: 7).contains(166))
        #expect(try Spacing.uniform.timesteps(trainSteps: 1000, steps: 7).contains(832))
        #expect(try Spacing.uniform.timesteps(trainSteps: 1000, steps: 21).contains(499))
    }

    @Test func invalidRequestsAreErrors() {
        #expect(throws: ScheduleError.invalidSteps(steps: 0, trainSteps: 1000)) {
            try Spacing.uniform.timesteps(trainSteps: 1000, steps: 0)
        }
        #expect(throws: ScheduleError.invalidSteps(steps: 1001, trainSteps: 1000)) {
            try Spacing.linspace.timesteps(trainSteps: 1000, steps: 1001)
        }
        #expect(throws: ScheduleError.self) { try Spacing.list([5, 5, 1]).timesteps(trainSteps: 10, steps: 3) }
        #expect(throws: ScheduleError.self) { try Spacing.list([10, 1]).timesteps(trainSteps: 10, steps: 2) }
        #expect(throws: ScheduleError.self) { try Spacing.list([-1]).timesteps(trainSteps: 10, steps: 1) }
        #expect(throws: ScheduleError.self) { try Spacing.list([]).timesteps(trainSteps: 10, steps: 0) }
        #expect((try? Spacing.list([1, 7, 3]).timesteps(trainSteps: 10, steps: 3)) == [7, 3, 1])
    }

    struct BetaCase: Decodable {
        var name: String, T: Int, beta_schedule: String, beta_start: Double, beta_end: Double
        var rescale_betas_zero_snr: Bool
        var betas: [Double], alphas_cumprod: [Double]
        var betas_f64: [Double]?, alphas_cumprod_f64: [Double]?
    }
    struct BetaFile: Decodable { var schedules: [BetaCase] }

    @Test func betaSchedulesMatchTheirSources() throws {
        for c in try Fixtures.json(BetaFile.self, "schedulers/betas.json").schedules {
            let kind: BetaSchedule = switch (c.name.hasPrefix("guided"), c.beta_schedule) {
            case (true, "linear"): .guidedLinear
            case (true, _): .squaredCosCapV2
            default: try BetaSchedule(diffusersName: c.beta_schedule, start: c.beta_start, end: c.beta_end, trainedBetas: nil)
            }
            let schedule = try NoiseSchedule(kind, trainSteps: c.T, rescaleZeroTerminalSNR: c.rescale_betas_zero_snr)
            // Float64 tables: equal to the formulas in float64 (numpy) to rounding.
            let betas64 = c.betas_f64 ?? c.betas, bar64 = c.alphas_cumprod_f64 ?? c.alphas_cumprod
            let b = closeness(schedule.betas, betas64, rtol: 1e-12, atol: 1e-15)
            #expect(b.passes, "\(c.name) T=\(c.T) betas: \(b)")
            let a = closeness(schedule.alphasCumprod, bar64, rtol: 1e-11, atol: 1e-15)
            #expect(a.passes, "\(c.name) T=\(c.T) ᾱ: \(a)")
            guard c.betas_f64 != nil else { continue }
            // diffusers' float32 tables, reproduced bit for bit by the parity mode.
            let parity = try NoiseSchedule.diffusersFloat32(kind, trainSteps: c.T,
                                                            rescaleZeroTerminalSNR: c.rescale_betas_zero_snr)
            let exactBetas = zip(parity.betas, c.betas).count(where: { $0 == $1 })
            let exactBar = zip(parity.alphasCumprod, c.alphas_cumprod).count(where: { $0 == $1 })
            // torch's vectorised sigmoid and division are not reproduced bit for bit, and the zero-SNR
            // rescale forms β = 1 − ᾱ_i/ᾱ_{i−1}: a few float32 ulps of that ratio (2⁻²¹ absolute; 12
            // of 1000 differ, by up to 5 ulps, even in a numpy float32 replica) are up to 5e-5
            // relative in a small β. Everything else is bit for bit.
            let inexact = c.beta_schedule == "sigmoid" || c.rescale_betas_zero_snr
            let (rtol, atol) = inexact ? (1e-6, 0x1p-21) : (0.0, 0.0)
            #expect(closeness(parity.betas, c.betas, rtol: rtol, atol: atol).passes,
                    "\(c.name) float32 betas: \(exactBetas)/\(c.T) exact")
            #expect(closeness(parity.alphasCumprod, c.alphas_cumprod, rtol: rtol * 10, atol: atol).passes,
                    "\(c.name) float32 ᾱ: \(exactBar)/\(c.T) exact")
        }
    }
}

/// `quadratic`, `karras` and `logsnr` against the DDIM paper's code and diffusers'
/// DPMSolverMultistepScheduler (Tests/Fixtures/schedulers/spacings_beyond.json, made by
/// tools/make_beyond_goldens.py).
@Suite struct BeyondSpacingGoldenTests {
    struct Case: Decodable, CustomTestStringConvertible {
        var spacing: String, beta_schedule: String?, T: Int, N: Int
        var timesteps: [Int], fractional_timesteps: [Double]?, has_duplicates: Bool
        var testDescription: String { "\(spacing) \(beta_schedule ?? "") T=\(T) N=\(N)" }
    }
    struct File: Decodable { var cases: [Case] }

    static func schedule(_ name: String?, trainSteps: Int, float32Tables: Bool) throws -> NoiseSchedule {
        let kind: BetaSchedule = name == "scaled_linear" ? .scaledLinear() : .linear()
        return float32Tables ? try .diffusersFloat32(kind, trainSteps: trainSteps) : try NoiseSchedule(kind, trainSteps: trainSteps)
    }

    /// Equal to the reference where it gives distinct indices; where it repeats one (at T = 1000:
    /// quadratic from 50 steps, karras from 100 on linear and 50 on scaled_linear, logsnr from 50),
    /// refused with an error that names a repeated index.
    @Test(arguments: [false, true])
    func matchTheirSources(float32Tables: Bool) throws {
        let cases = try Fixtures.json(File.self, "schedulers/spacings_beyond.json").cases
        #expect(cases.count > 40)
        var worstFraction = 0.0
        var checked: Set<String> = []
        for c in cases {
            let spacing = try #require(Spacing(parsing: c.spacing))
            let schedule = try Self.schedule(c.beta_schedule, trainSteps: c.T, float32Tables: float32Tables)
            if c.has_duplicates {
                do {
                    _ = try spacing.timesteps(schedule: schedule, steps: c.N)
                    Issue.record("\(c.testDescription): accepted a repeated index")
                } catch let ScheduleError.repeatedIndex(name, index, steps, trainSteps) {
                    #expect(name == c.spacing && steps == c.N && trainSteps == c.T)
                    #expect(c.timesteps.count(where: { $0 == index }) > 1, "\(c.testDescription): \(index) is not repeated")
                }
            } else {
                #expect(try spacing.timesteps(schedule: schedule, steps: c.N) == c.timesteps, "\(c.testDescription)")
                checked.insert(c.spacing)
            }
            if let fractional = c.fractional_timesteps {
                let ours = try spacing.fractionalTimesteps(schedule: schedule, steps: c.N)
                #expect(ours.count == fractional.count, "\(c.testDescription)")
                worstFraction = max(worstFraction, zip(ours, fractional).map { abs($0 - $1) }.max() ?? 0)
            }
        }
        #expect(checked == ["quadratic", "karras", "logsnr"])
        // The unrounded timesteps: with diffusers' float32 ᾱ only its float32 σ and log σ differ
        // (4.3e-5 at worst); Float64 ᾱ differs from it by ≤ 3.6e-7 relative, which near t = 0
        // (σ² ≈ 1e-4) moves log σ by ~1e-3 and t by 8.3e-3 at worst. Neither flips a rounding.
        #expect(worstFraction < (float32Tables ? 1e-4 : 2e-2), "fractional timesteps differ by \(worstFraction)")
        print("float32 tables \(float32Tables): worst fractional timestep difference \(worstFraction)")
    }

    @Test func documentedExamples() throws {
        // ermongroup/ddim at T = 1000, N = 10: int((i·√800/9)²).
        #expect(try Spacing.quadratic.timesteps(trainSteps: 1000, steps: 10) == [800, 632, 483, 355, 246, 158, 88, 39, 9, 0])
        #expect(throws: ScheduleError.repeatedIndex(spacing: "quadratic", index: 0, steps: 50, trainSteps: 1000)) {
            try Spacing.quadratic.timesteps(trainSteps: 1000, steps: 50)
        }
        #expect(throws: ScheduleError.needsNoiseSchedule("karras")) { try Spacing.karras.timesteps(trainSteps: 1000, steps: 10) }
        let schedule = try NoiseSchedule(.linear())
        let karras = try Spacing.karras.timesteps(schedule: schedule, steps: 10)
        #expect(karras.first == 999 && karras.last == 0)
        #expect(throws: ScheduleError.self) {
            try Spacing.logSNR.timesteps(schedule: NoiseSchedule(.linear(), rescaleZeroTerminalSNR: true), steps: 10)
        }
        for name in ["quadratic", "karras", "logsnr"] {
            #expect(Spacing(parsing: name)?.description == name)
            #expect(Spacing.grammar.contains(name))
        }
    }
}
