import Foundation

/// DPM-Solver++ in data prediction (Lu et al. 2022), as diffusers DPMSolverMultistepScheduler
/// with algorithm_type "dpmsolver++", solver_order 2, solver_type "midpoint", final_sigmas_type
/// "zero": α = √ᾱ, σ = √(1 − ᾱ), λ = log α − log σ, h = λ_p − λ_s.
///
/// First order (`dpm_solver_first_order_update`, the first and last steps):
/// x' = (σ_p/σ_s)·x − α_p(e^{−h} − 1)·m0.
/// Second order (`multistep_dpm_solver_second_order_update`): with r0 = h0/h and D1 = (m0 − m1)/r0,
/// x' = (σ_p/σ_s)·x − α_p(e^{−h} − 1)·m0 − ½α_p(e^{−h} − 1)·D1.
public struct DPMSolverPP: UpdateRule {
    /// Second order (2M, using the previous step's x̂₀) rather than first order.
    public var secondOrder: Bool
    /// The solver at first or second order.
    public init(secondOrder: Bool) { self.secondOrder = secondOrder }
    public var method: StepMethod { secondOrder ? .dpmSolverPP2M : .dpmSolverPP1 }

    public func coefficients(from s: Int, to p: Int, previous: Int?, schedule: NoiseSchedule,
                             variance: VarianceType) throws -> StepCoefficients {
        let aS = schedule.alphaBar(s), aP = schedule.alphaBar(p)
        // e^{−h} = (α_s·σ_p)/(σ_s·α_p): 0 on the last step (σ_p = 0).
        let expMinusH = (aS * (1 - aP) / ((1 - aS) * aP)).squareRoot()
        let alphaP = aP.squareRoot()
        var c = StepCoefficients()
        c.x = ((1 - aP) / (1 - aS)).squareRoot()
        c.x0 = -alphaP * (expMinusH - 1)
        if secondOrder, let s1 = previous {
            let r0 = Self.r0(from: s, to: p, previous: s1, schedule: schedule)
            c.x0 = -alphaP * (expMinusH - 1) * (1 + 0.5 / r0)
            c.previousX0 = 0.5 * alphaP * (expMinusH - 1) / r0
        }
        return c
    }

    /// r0 = h0/h of the multistep update: h = λ_p − λ_s, h0 = λ_s − λ_{s1}, λ = log √a − log √(1−a).
    static func r0(from s: Int, to p: Int, previous s1: Int, schedule: NoiseSchedule) -> Double {
        func lambda(_ j: Int) -> Double {
            let a = schedule.alphaBar(j)
            return 0.5 * log(a / (1 - a))
        }
        return (lambda(s) - lambda(s1)) / (lambda(p) - lambda(s))
    }
}
