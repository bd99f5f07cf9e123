import Foundation

/// SDE-DPM-Solver++ (Lu et al. 2022, arXiv 2211.01095, §4 and Appendix), as diffusers
/// DPMSolverMultistepScheduler with algorithm_type "sde-dpmsolver++", solver_order 2, solver_type
/// "midpoint", final_sigmas_type "zero" (diffusers 0.42.1 `dpm_solver_first_order_update` and
/// `multistep_dpm_solver_second_order_update`): α = √ᾱ, σ = √(1 − ᾱ), λ = log α − log σ, h = λ_p − λ_s.
///
/// First order (the first and last steps): x' = (σ_p/σ_s)e^{−h}·x + α_p(1 − e^{−2h})·m0 + σ_p√(1 − e^{−2h})·z.
/// Second order: with r0 = h0/h and D1 = (m0 − m1)/r0, the same plus ½α_p(1 − e^{−2h})·D1.
/// (σ_p/σ_s)e^{−h} = (1 − a_p)√a_s / ((1 − a_s)√a_p); on the last step (a_p = 1) x' = m0 and σ = 0.
public struct SDEDPMSolverPP: UpdateRule {
    /// Second order (2M, using the previous step's x̂₀) rather than first order.
    public var secondOrder: Bool
    /// The solver at first or second order.
    public init(secondOrder: Bool) { self.secondOrder = secondOrder }
    public var method: StepMethod { secondOrder ? .sdeDPMSolverPP2M : .sdeDPMSolverPP1 }

    public func coefficients(from s: Int, to p: Int, previous: Int?, schedule: NoiseSchedule,
                             variance: VarianceType) throws -> StepCoefficients {
        let aS = schedule.alphaBar(s), aP = schedule.alphaBar(p)
        // e^{−2h} = (α_s·σ_p)²/(σ_s·α_p)²: 0 on the last step (σ_p = 0).
        let expMinus2H = aS * (1 - aP) / ((1 - aS) * aP)
        let dataWeight = aP.squareRoot() * (1 - expMinus2H)
        var c = StepCoefficients()
        c.x = (1 - aP) * aS.squareRoot() / ((1 - aS) * aP.squareRoot())
        c.x0 = dataWeight
        c.noiseStd = p < 0 ? 0 : ((1 - aP) * max(0, 1 - expMinus2H)).squareRoot()
        if secondOrder, let s1 = previous {
            let r0 = DPMSolverPP.r0(from: s, to: p, previous: s1, schedule: schedule)
            c.x0 = dataWeight * (1 + 0.5 / r0)
            c.previousX0 = -0.5 * dataWeight / r0
        }
        return c
    }
}
