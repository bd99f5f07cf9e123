import Foundation
import Testing
@testable import Diffusion

/// Data x₀ ~ N(μ_i, v_i) independently per dimension: the optimal ε̂ is linear in x, so every step
/// of every sampler is linear-Gaussian and the output distribution is known exactly. The prediction
/// below propagates means and covariances through the samplers' formulas as ARCHITECTURE.md, Samplers, writes
/// them (independently of `Sampler`'s planner); the empirical moments of a real run through
/// `Denoising` (Float32, per-sample generators) must match within statistical error.
@Suite struct GaussianExactnessTests {
    struct GaussianDenoiser: Denoiser {
        let mean: [Double], variance: [Double], alphaBar: [Double]
        var sampleShape: [Int] { [mean.count] }
        var predictionType: PredictionType { .epsilon }
        /// E[ε | x_t] = √(1−a)(x − √a μ)/(a v + 1 − a); between two indices, ᾱ of the σ interpolated
        /// linearly in log σ (k-diffusion's `t_to_sigma`, for the samplers that step at fractional t).
        func predict(_ x: [Float], batch: Int, timestep: Double) throws -> [Float] {
            let low = Int(timestep.rounded(.down)), w = timestep - Double(low)
            var a = alphaBar[low]
            if w > 0 {
                let ls = (1 - w) * 0.5 * log((1 - alphaBar[low]) / alphaBar[low]) + w * 0.5 * log((1 - alphaBar[low + 1]) / alphaBar[low + 1])
                a = 1 / (1 + exp(2 * ls))
            }
            let d = mean.count
            return x.indices.map { i in
                let j = i % d
                return Float((1 - a).squareRoot() * (Double(x[i]) - a.squareRoot() * mean[j])
                             / (a * variance[j] + 1 - a))
            }
        }
    }

    /// One dimension's state (x, x̂₀ of the previous step) as means and a 2×2 covariance.
    struct Moments { var m = [0.0, 0.0]; var c = [[1.0, 0.0], [0.0, 0.0]] }

    /// The ARCHITECTURE.md update written as x' = u·x + w·x̂₀_prev + k + σz with x̂₀ = g·x + h.
    static func predict(_ kind: SamplerKind, schedule: NoiseSchedule, timesteps ts: [Int],
                        mean mu: Double, variance v: Double) -> (mean: Double, variance: Double) {
        var st = Moments()
        let kc = if case .mix(.skipSteps(let kc)) = kind { kc } else { 0 }
        func lambda(_ a: Double) -> Double { log(a.squareRoot()) - log((1 - a).squareRoot()) }
        for (k, s) in ts.enumerated() {
            let p = k + 1 < ts.count ? ts[k + 1] : -1
            let aS = schedule.alphaBar(s), aP = schedule.alphaBar(p), last = p < 0
            // ε̂ = e1·x + e0; x̂₀ = (x − √(1−a_s)ε̂)/√a_s = g·x + h.
            let den = aS * v + 1 - aS
            let e1 = (1 - aS).squareRoot() / den, e0 = -(1 - aS).squareRoot() * aS.squareRoot() * mu / den
            let g = (1 - (1 - aS).squareRoot() * e1) / aS.squareRoot(), h = -(1 - aS).squareRoot() * e0 / aS.squareRoot()
            var u = 0.0, w = 0.0, k0 = 0.0, sigma = 0.0
            func ddim(_ eta: Double) {
                let sd = last ? 0 : eta * ((1 - aP) / (1 - aS) * (1 - aS / aP)).squareRoot()
                let ce = (1 - aP - sd * sd).squareRoot()
                u = aP.squareRoot() * g + ce * e1; k0 = aP.squareRoot() * h + ce * e0; sigma = sd
            }
            func skip() {
                let cx = (aP / aS).squareRoot(), ce = -(aP - aS) / (aS * aP * (1 - aS)).squareRoot()
                u = cx + ce * e1; k0 = ce * e0
                sigma = last ? 0 : ((aP - aS) * (1 - aP) / (aP * (1 - aS))).squareRoot()
            }
            switch kind {
            case .skip: skip()
            case .ddim(let eta): ddim(eta)
            case let .ddimEtaStep(above, below, cutoff): ddim(s >= cutoff ? above : below)
            case .mix: k < kc ? skip() : ddim(0)
            case .ddpm:
                let alpha = aS / aP, beta = 1 - alpha
                let cx0 = aP.squareRoot() * beta / (1 - aS), cx = alpha.squareRoot() * (1 - aP) / (1 - aS)
                u = cx + cx0 * g; k0 = cx0 * h
                sigma = last ? 0 : beta.squareRoot()          // fixed_large in this test
            case .ddpmNaive:
                let beta = schedule.betas[s], alpha = 1 - beta
                let ce = -beta / ((1 - aS).squareRoot() * alpha.squareRoot())
                u = 1 / alpha.squareRoot() + ce * e1; k0 = ce * e0
                sigma = last ? 0 : ((1 - schedule.alphaBar(s - 1)) / (1 - aS) * beta).squareRoot()
            case .dpmSolverPP2M:
                // diffusers dpmsolver++: x' = (σ_t/σ_s)x − α_t(e^{−h}−1)D0 − ½α_t(e^{−h}−1)D1.
                let alphaT = aP.squareRoot(), ratio = ((1 - aP) / (1 - aS)).squareRoot()
                let phi = last ? -1 : exp(-(lambda(aP) - lambda(aS))) - 1
                if k == 0 || last {
                    u = ratio - alphaT * phi * g; k0 = -alphaT * phi * h
                } else {
                    let s1 = ts[k - 1]
                    let r0 = (lambda(aS) - lambda(schedule.alphaBar(s1))) / (lambda(aP) - lambda(aS))
                    u = ratio - alphaT * phi * (1 + 0.5 / r0) * g
                    k0 = -alphaT * phi * (1 + 0.5 / r0) * h
                    w = 0.5 * alphaT * phi / r0
                }
            case .eulerAncestral, .restart:
                preconditionFailure("predicted in σ by predictInSigma")
            case .pndm:
                preconditionFailure("predicted by predictPNDM")
            case .sdeDPMSolverPP2M:
                // diffusers sde-dpmsolver++: x' = (σ_t/σ_s)e^{−h}x + α_t(1−e^{−2h})(D0 + ½D1) + σ_t√(1−e^{−2h})z.
                let alphaT = aP.squareRoot(), sigmaT = (1 - aP).squareRoot()
                let e2 = last ? 0 : exp(-2 * (lambda(aP) - lambda(aS)))
                let weight = alphaT * (1 - e2)
                sigma = sigmaT * (1 - e2).squareRoot()
                let carry = last ? 0 : sigmaT / (1 - aS).squareRoot() * exp(-(lambda(aP) - lambda(aS)))
                if k == 0 || last {
                    u = carry + weight * g; k0 = weight * h
                } else {
                    let s1 = ts[k - 1]
                    let r0 = (lambda(aS) - lambda(schedule.alphaBar(s1))) / (lambda(aP) - lambda(aS))
                    u = carry + weight * (1 + 0.5 / r0) * g
                    k0 = weight * (1 + 0.5 / r0) * h
                    w = -0.5 * weight / r0
                }
            }
            // (x, m1) → (u·x + w·m1 + k0 + σz, g·x + h)
            let m = [u * st.m[0] + w * st.m[1] + k0, g * st.m[0] + h]
            let cxx = u * u * st.c[0][0] + 2 * u * w * st.c[0][1] + w * w * st.c[1][1] + sigma * sigma
            let cxm = g * (u * st.c[0][0] + w * st.c[0][1])
            st = Moments(m: m, c: [[cxx, cxm], [cxm, g * g * st.c[0][0]]])
        }
        return (st.m[0], st.c[0][0])
    }

    /// Euler ancestral and Restart in x̃ = x/√ᾱ, σ = √((1 − ᾱ)/ᾱ), as their references write them:
    /// ε̂(x̃, σ) = e1·x̃ + e0 is affine, so x̃ stays Gaussian; x_T = σ_0·z; x̃ = x at σ = 0.
    static func predictInSigma(_ kind: SamplerKind, schedule: NoiseSchedule, timesteps ts: [Int],
                               mean mu: Double, variance v: Double) -> (mean: Double, variance: Double) {
        func eps(_ sigma: Double) -> (Double, Double) {
            let a = 1 / (1 + sigma * sigma), den = a * v + 1 - a
            let e1 = (1 - a).squareRoot() * a.squareRoot() / den
            return (e1, -(1 - a).squareRoot() * a.squareRoot() * mu / den)
        }
        var m = 0.0, c = 0.0
        func affine(_ u: Double, _ k: Double, noise: Double = 0) { m = u * m + k; c = u * u * c + noise * noise }
        func heun(_ s: Double, _ p: Double) {
            let (e1s, e0s) = eps(s), (e1p, e0p) = eps(p), d = p - s
            // x' = x + d/2·(ε(x, s) + ε(x + d·ε(x, s), p))
            affine(1 + d / 2 * (e1s + e1p * (1 + d * e1s)), d / 2 * (e0s + e1p * d * e0s + e0p))
        }
        func sigma(_ j: Int) -> Double { ((1 - schedule.alphaBar(j)) / schedule.alphaBar(j)).squareRoot() }
        switch kind {
        case .eulerAncestral:
            let sigmas = ts.map(sigma) + [0]
            c = sigmas[0] * sigmas[0]
            for k in ts.indices {
                let s = sigmas[k], p = sigmas[k + 1]
                let up = (p * p * (s * s - p * p) / (s * s)).squareRoot(), down = (p * p - up * up).squareRoot()
                let (e1, e0) = eps(s)
                affine(1 + (down - s) * e1, (down - s) * e0, noise: up)
            }
        case .restart:
            // The published configuration at an NFE budget of ts.count = 25: 9 main Heun steps on the Karras
            // grid (ρ = 7) from min(80, σ(T−1)) to max(0.002, σ(0)), the last one Euler; after reaching the
            // point nearest 0.06, twice: noise up to 0.30, 2 Heun steps back on the 3-point Karras grid.
            precondition(ts.count == 25)
            let n = 9, rho = 7.0
            func karras(_ hi: Double, _ lo: Double, _ count: Int) -> [Double] {
                (0..<count).map { pow(pow(hi, 1 / rho) + Double($0) / Double(count - 1) * (pow(lo, 1 / rho) - pow(hi, 1 / rho)), rho) }
            }
            let main = karras(min(80, sigma(schedule.trainSteps - 1)), max(0.002, sigma(0)), n) + [0]
            let r = main.indices.min { abs(main[$0] - 0.06) < abs(main[$1] - 0.06) }!
            c = main[0] * main[0]
            for i in 0..<n {
                if main[i + 1] > 0 { heun(main[i], main[i + 1]) } else {
                    let (e1, e0) = eps(main[i])
                    affine(1 - main[i] * e1, -main[i] * e0)
                }
                if i + 1 == r {
                    let grid = karras(0.30, main[r], 3)
                    for _ in 0..<2 {
                        c += grid[0] * grid[0] - main[r] * main[r]
                        for j in 0..<2 { heun(grid[j], grid[j + 1]) }
                    }
                }
            }
        default: preconditionFailure("not a σ sampler")
        }
        return (m, c)
    }

    /// PNDM as diffusers 0.42.1's PNDMScheduler runs it, transcribed from scheduling_pndm.py
    /// (`set_timesteps` with leading spacing and `steps_offset`, `step_prk` and `step_plms` with their
    /// `counter`, `ets`, `cur_sample` and `prev_timestep = t − T // N`, `_get_prev_sample`'s formula (9),
    /// `final_alpha_cumprod` = ᾱ[0]). ε̂ is affine in x, so with x_T = z every value is u·z + k.
    static func predictPNDM(skipPRK: Bool, schedule: NoiseSchedule, steps n: Int, offset: Int,
                            mean mu: Double, variance v: Double) -> (u: Double, k: Double) {
        struct Affine { var u: Double, k: Double }
        /// Σ weight·value.
        func sum(_ terms: (Double, Affine)...) -> Affine {
            Affine(u: terms.reduce(0) { $0 + $1.0 * $1.1.u }, k: terms.reduce(0) { $0 + $1.0 * $1.1.k })
        }
        let trainSteps = schedule.trainSteps, ratio = trainSteps / n
        let base = (0..<n).map { $0 * ratio + offset }  // diffusers' _timesteps (ascending)
        var prk: [Int] = [], plms: [Int]
        if skipPRK {
            plms = Array((Array(base.dropLast()) + Array(base[max(0, n - 2)..<max(0, n - 1)]) + [base[n - 1]]).reversed())
        } else {
            let tiled = base.suffix(4).flatMap { [$0, $0 + ratio / 2] }
            prk = Array(Array(tiled.dropLast().flatMap { [$0, $0] }.dropFirst().dropLast()).reversed())
            plms = Array(base.dropLast(3).reversed())
        }
        func eps(_ x: Affine, _ t: Int) -> Affine {
            let a = schedule.alphaBar(t), den = a * v + 1 - a
            return Affine(u: (1 - a).squareRoot() / den * x.u, k: (1 - a).squareRoot() / den * x.k
                          - (1 - a).squareRoot() * a.squareRoot() * mu / den)
        }
        func previous(_ sample: Affine, _ t: Int, _ p: Int, _ e: Affine) -> Affine {
            let aT = schedule.alphaBar(t), aP = p >= 0 ? schedule.alphaBar(p) : schedule.alphaBar(0)
            let den = aT * (1 - aP).squareRoot() + (aT * (1 - aT) * aP).squareRoot()
            return sum(((aP / aT).squareRoot(), sample), (-(aP - aT) / den, e))
        }
        var x = Affine(u: 1, k: 0), ets: [Affine] = [], cur: Affine?, curOut = Affine(u: 0, k: 0), counter = 0
        for (i, t) in (prk + plms).enumerated() {
            var out = eps(x, t)
            if i < prk.count {
                let p = t - (counter % 2 == 1 ? 0 : trainSteps / n / 2), start = prk[counter / 4 * 4]
                switch counter % 4 {
                case 0: curOut = sum((1, curOut), (1.0 / 6, out)); ets.append(out); cur = x
                case 3: out = sum((1, curOut), (1.0 / 6, out)); curOut = Affine(u: 0, k: 0)
                default: curOut = sum((1, curOut), (1.0 / 3, out))
                }
                x = previous(cur ?? x, start, p, out)
            } else {
                var t = t, p = t - trainSteps / n, sample = x
                if counter != 1 { ets = Array(ets.suffix(3)) + [out] } else { p = t; t += trainSteps / n }
                if ets.count == 1 && counter == 0 { cur = x } else if ets.count == 1 && counter == 1 {
                    out = sum((0.5, out), (0.5, ets[0])); sample = cur!; cur = nil
                } else if ets.count == 2 {
                    out = sum((1.5, ets[1]), (-0.5, ets[0]))
                } else if ets.count == 3 {
                    out = sum((23.0 / 12, ets[2]), (-16.0 / 12, ets[1]), (5.0 / 12, ets[0]))
                } else {
                    out = sum((55.0 / 24, ets[3]), (-59.0 / 24, ets[2]), (37.0 / 24, ets[1]), (-9.0 / 24, ets[0]))
                }
                x = previous(sample, t, p, out)
            }
            counter += 1
        }
        return (x.u, x.k)
    }

    /// The mean and variance of u·z + k, z ~ N(0, 1).
    static func pndmMoments(_ map: (u: Double, k: Double)) -> (mean: Double, variance: Double) { (map.k, map.u * map.u) }

    /// PNDM is deterministic: each output dimension is the affine map u·z + k of x_T = z, which
    /// two runs (z = 0 and z = 1) pin down exactly; the moments test alone cannot see small errors.
    @Test(arguments: [true, false])
    func pndmIsDiffusersAffineMap(skipPRK: Bool) throws {
        let schedule = try NoiseSchedule(.linear())
        let ts = try Spacing.leading(offset: 1).timesteps(trainSteps: 1000, steps: 10)
        let means = [0.0, 0.5, -0.7, 0.2, 1.0, -0.3], variances = [1.0, 0.04, 0.25, 0.5, 0.01, 2.0]
        let model = GaussianDenoiser(mean: means, variance: variances, alphaBar: schedule.alphasCumprod)
        var options = SamplerOptions()
        options.ddimFinalAlphaBar = schedule.alphaBar(0)
        let sampler = try Sampler(.pndm(skipPRK: skipPRK), schedule: schedule, timesteps: ts, options: options)
        let generators = (0..<2).map { RandomKind.philox.makeSource(seed: UInt64($0)) }
        var run = try Denoising(sampler: sampler, denoiser: model, generators: generators,
                                initialNoise: [Float](repeating: 0, count: 6) + [Float](repeating: 1, count: 6))
        let x = try run.run()
        for j in 0..<6 {
            let (u, k) = Self.predictPNDM(skipPRK: skipPRK, schedule: schedule, steps: 10, offset: 1, mean: means[j], variance: variances[j])
            #expect(abs(Double(x[j]) - k) <= 1e-5 * max(1, abs(k)), "dim \(j): x(z = 0) \(x[j]), predicted \(k)")
            #expect(abs(Double(x[6 + j]) - (u + k)) <= 1e-5 * max(1, abs(u + k)), "dim \(j): x(z = 1) \(x[6 + j]), predicted \(u + k)")
        }
    }

    static let kinds: [SamplerKind] = [.pndm(skipPRK: true), .pndm(skipPRK: false), .eulerAncestral, .restart, .skip, .ddim(eta: 0), .ddim(eta: 0.5), .mix(.skipSteps(4)),
                                       .ddpm, .ddpmNaive, .dpmSolverPP2M, .sdeDPMSolverPP2M,
                                       .ddimEtaStep(above: 0.3, below: 1, cutoff: 500)]

    @Test(arguments: kinds)
    func outputMomentsMatchPrediction(kind: SamplerKind) throws {
        let schedule = try NoiseSchedule(.linear())
        // Restart reads the step count as its NFE budget: 25 is 9 main steps and the Restart interval.
        // PNDM on Stable Diffusion's spacing (leading + 1, ending at ᾱ[0]), where diffusers' t − T // N is the next timestep.
        let isPNDM = kind.name == .pndm
        let ts = try (isPNDM ? Spacing.leading(offset: 1) : .uniform).timesteps(trainSteps: 1000, steps: kind == .restart ? 25 : 10)
        let means = [0.0, 0.5, -0.7, 0.2, 1.0, -0.3], variances = [1.0, 0.04, 0.25, 0.5, 0.01, 2.0]
        let model = GaussianDenoiser(mean: means, variance: variances, alphaBar: schedule.alphasCumprod)
        var options = SamplerOptions(varianceType: .fixedLarge)
        if isPNDM { options.ddimFinalAlphaBar = schedule.alphaBar(0) }
        let sampler = try Sampler(kind, schedule: schedule, timesteps: ts, options: options)
        let n = 20_000, d = means.count
        let generators = (0..<n).map { RandomKind.philox.makeSource(seed: 1234 + UInt64($0)) }
        var run = try Denoising(sampler: sampler, denoiser: model, generators: generators)
        let x = try run.run()
        var pooledZ = 0.0, pooledZ2 = 0.0
        for j in 0..<d {
            let (pm, pv) = if case .pndm(let skipPRK) = kind {
                Self.pndmMoments(Self.predictPNDM(skipPRK: skipPRK, schedule: schedule, steps: 10, offset: 1,
                                                  mean: means[j], variance: variances[j]))
            } else if kind.stepsInSigma {
                Self.predictInSigma(kind, schedule: schedule, timesteps: ts, mean: means[j], variance: variances[j])
            } else {
                Self.predict(kind, schedule: schedule, timesteps: ts, mean: means[j], variance: variances[j])
            }
            var sum = 0.0, sum2 = 0.0
            for i in 0..<n {
                let z = (Double(x[i * d + j]) - pm) / pv.squareRoot()
                sum += z; sum2 += z * z
            }
            pooledZ += sum; pooledZ2 += sum2
            // Per dimension: standardised mean ~ N(0, 1/n), variance ratio ~ 1 ± √(2/n); 5σ bounds.
            #expect(abs(sum / Double(n)) < 5 / Double(n).squareRoot(), "\(kind) dim \(j) mean")
            #expect(abs(sum2 / Double(n) - 1) < 5 * (2 / Double(n)).squareRoot(), "\(kind) dim \(j) variance")
        }
        let total = Double(n * d)
        #expect(abs(pooledZ / total) < 5 / total.squareRoot(), "\(kind) pooled mean")
        #expect(abs(pooledZ2 / total - 1) < 5 * (2 / total).squareRoot(), "\(kind) pooled variance")
    }
}
