import Diffusion

/// The sampler a diffusers pipeline runs with its own scheduler config, as a `SamplerSpec`: what
/// `txt2img` samples with when no `--sampler` is given, so a diffusers user gets the same image.
/// Sources: diffusers 0.42.1 schedulers/scheduling_{ddim,pndm,dpmsolver_multistep,ddpm}.py.
extension SchedulerConfig {
    /// The timesteps the scheduler visits: `timestep_spacing`, or the class's default (`leading`
    /// for DDIM/PNDM/DDPM, `linspace` for DPMSolverMultistep); `leading` adds `steps_offset`.
    public func spacing(path: String) throws -> Spacing {
        let isDPMSolver = className == "DPMSolverMultistepScheduler"
        switch timestepSpacing ?? (isDPMSolver ? "linspace" : "leading") {
        case "leading": return .leading(offset: stepsOffset)
        case "trailing": return .trailing
        // DPMSolverMultistep's linspace drops the last of N + 1 points; DDIM's keeps N.
        case "linspace": return isDPMSolver ? .dpmLinspace : .linspace
        case let other:
            throw UNetLoadError.unsupportedOption(path: path, key: "timestep_spacing", value: other,
                                                  supported: "leading, trailing, linspace")
        }
    }

    /// The scheduler as a sampler spec with its spacing, plus a note when skipstep has no exact
    /// equivalent of the scheduler class and runs its closest sampler instead (none does at present:
    /// DDIM, PNDM with or without its Runge–Kutta warm-up, DPM-Solver++ 2M and its SDE form, DDPM).
    public func defaultSampler(path: String) throws -> (spec: SamplerSpec, note: String?) {
        let spacing = try spacing(path: path)
        switch className {
        case "DDIMScheduler", nil:
            return (SamplerSpec(.ddim(eta: 0), spacing: spacing), nil)
        case "PNDMScheduler":
            // PNDMScheduler's own default is skip_prk_steps false; Stable Diffusion's configs set it true.
            return (SamplerSpec(.pndm(skipPRK: skipPRKSteps ?? false), spacing: spacing), nil)
        case "DPMSolverMultistepScheduler":
            let order = solverOrder ?? 2
            switch (algorithmType ?? "dpmsolver++", order) {
            case ("dpmsolver++", 2): return (SamplerSpec(.dpmSolverPP2M, spacing: spacing), nil)
            case ("sde-dpmsolver++", 2): return (SamplerSpec(.sdeDPMSolverPP2M, spacing: spacing), nil)
            case let (algorithm, order):
                throw UNetLoadError.unsupportedOption(
                    path: path, key: "algorithm_type, solver_order", value: "\(algorithm), \(order)",
                    supported: "dpmsolver++ or sde-dpmsolver++ with order 2; or choose a sampler with --sampler")
            }
        case "DDPMScheduler":
            return (SamplerSpec(.ddpm, spacing: spacing), nil)
        case let other?:
            throw UNetLoadError.unsupportedOption(path: path, key: "_class_name", value: other,
                                                  supported: "DDIMScheduler, PNDMScheduler, DPMSolverMultistepScheduler, "
                                                      + "DDPMScheduler as the default sampler; or choose one with --sampler")
        }
    }

    /// ᾱ after a last DDIM step: ᾱ[0] when the config (or the class's default: true for DDIM, false
    /// for PNDM) sets `set_alpha_to_one` false, nil (ᾱ = 1) otherwise.
    public func ddimFinalAlphaBar(_ schedule: NoiseSchedule) -> Double? {
        let alphaToOne = setAlphaToOne ?? (className != "PNDMScheduler")
        return alphaToOne ? nil : schedule.alphaBar(0)
    }
}
