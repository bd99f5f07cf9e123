#!/usr/bin/env python3
"""Make the goldens of issue 21's spacings and samplers in Tests/Fixtures/schedulers/.

Command (run from the repository root; needs no network and no GPU):

    python tools/make_beyond_goldens.py            # (re)write the fixtures
    python tools/make_beyond_goldens.py --check    # regenerate in memory, compare with the files on disk

Versions that produced the checked-in files (refused otherwise unless --allow-other-versions):

    Python 3.11.7, torch 2.13.0+cpu, diffusers 0.42.1, numpy 2.4.6

It reuses tools/make_goldens.py (same JSON writer, fake model, generators and noise recording) and is
as deterministic: rerunning gives byte-identical files.

Files written (schemas in Tests/Fixtures/schedulers/README.md):

    spacings_beyond.json  `karras` and `logsnr`: diffusers DPMSolverMultistepScheduler(use_karras_sigmas=True)
                          and (use_lu_lambdas=True) `set_timesteps(N)`, with the fractional timesteps
                          `_sigma_to_t` gave before rounding; `quadratic`: the DDIM paper's official code
                          (ermongroup/ddim @ 587bae79c194b330015f81dbcc69cf794d39e04d, runners/diffusion.py,
                          `sample_image`, skip_type "quad"):
                              seq = np.linspace(0, np.sqrt(num_timesteps * 0.8), timesteps) ** 2
                              seq = [int(s) for s in list(seq)]
                          which is not on PyPI and is evaluated here with that exact expression.
    dpmsolver_sde.json    parity runs of DPMSolverMultistepScheduler(algorithm_type="sde-dpmsolver++",
                          solver_order=2).step, every step's input, model output, noise and output.
    euler_ancestral.json  parity runs of EulerAncestralDiscreteScheduler.step: diffusers' own `leading` and
                          `trailing` timesteps (integer t), and k-diffusion's fractional grids, which
                          diffusers 0.42.1's Euler ancestral cannot make: `get_sigmas(n)` (t = linspace(T-1, 0, n)
                          unrounded, sigma = DiscreteSchedule.t_to_sigma(t), linear in log sigma) and Karras
                          sigmas (rho 7) with t = sigma_to_t(sigma); those tables are computed here in float64
                          from the float64 linear betas and set as the scheduler's `sigmas`/`timesteps`, so the
                          step arithmetic is still diffusers' (float32).
    restart.json          Restart sampling (Xu et al. 2023, arXiv 2306.14878, Algorithm 1) with the CIFAR-10 VP
                          configuration `18 {"0": [3, 2, 0.06, 0.30]}` of the authors' params_cifar10_vp.txt,
                          written here in float64 torch in the variance-exploding form of the authors'
                          `restart_sampler` (Newbeeer/diffusion_restart_sampling @ 62d3aabe, benchmarks/
                          generate_restart.py; Heun main ODE on the Karras grid, the Restart noise
                          sqrt(t_max^2 - t_min^2) z, 2 Heun steps per repetition) on a discrete-time linear-beta
                          model: sigma_max = min(80, sigma(T-1)), sigma_min = max(0.002, sigma(0)), the network
                          evaluated at t = sigma_to_t(sigma) on x / sqrt(1 + sigma^2). gamma = 0, S_noise = 1 (the
                          paper's algorithm); only the Restart noise is drawn (one torch.randn per sample from its
                          generator, after x_T). Every network evaluation is recorded with its input and output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_goldens as mg  # noqa: E402  (patches diffusers' randn_tensor to record the noise)
from diffusers import DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler  # noqa: E402
import diffusers.schedulers.scheduling_euler_ancestral_discrete as _ea_mod  # noqa: E402

assert _ea_mod.randn_tensor is mg._ORIGINAL_RANDN
_ea_mod.randn_tensor = mg._recording_randn_tensor

COMMAND = "python tools/make_beyond_goldens.py"
DDIM_COMMIT = "587bae79c194b330015f81dbcc69cf794d39e04d"
N_GRID = [1, 2, 7, 10, 21, 25, 50, 100, 250, 1000]


def meta(description: str) -> dict:
    m = mg.meta(description)
    m["generated_by"] = "tools/make_beyond_goldens.py"
    m["command"] = COMMAND
    return m


def ddim_quad(num_timesteps: int, timesteps: int) -> list[int]:
    """ermongroup/ddim runners/diffusion.py sample_image, skip_type "quad" (ascending, may repeat)."""
    seq = np.linspace(0, np.sqrt(num_timesteps * 0.8), timesteps) ** 2
    return [int(s) for s in list(seq)]


BETA_CONFIGS = {
    "linear": {"beta_schedule": "linear"},
    "scaled_linear": {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012},
}


def sigma_case(kind: str, betas: str, N: int) -> dict:
    flag = {"karras": "use_karras_sigmas", "logsnr": "use_lu_lambdas"}[kind]
    s = DPMSolverMultistepScheduler(**BETA_CONFIGS[betas], **{flag: True})
    # The fractional timesteps: the scheduler rounds `_sigma_to_t`'s output (np.round, half to even);
    # capture it by wrapping the method for this one call.
    fractional: list[float] = []
    original = s._sigma_to_t

    def recording(sigma, log_sigmas):
        t = original(sigma, log_sigmas)
        fractional.append(float(t))
        return t

    s._sigma_to_t = recording
    s.set_timesteps(N)
    ts = [int(v) for v in s.timesteps.tolist()]
    assert ts == [int(np.round(v)) for v in fractional]
    return {"source": f"diffusers DPMSolverMultistepScheduler({flag}=True).set_timesteps(N)",
            "spacing": kind, "beta_schedule": betas, "T": 1000, "N": N,
            "timesteps": ts, "fractional_timesteps": fractional,
            "sigmas": mg.f32list(s.sigmas), "has_duplicates": len(set(ts)) != len(ts)}


def make_spacings() -> dict:
    cases = []
    for kind in ("karras", "logsnr"):
        for betas in BETA_CONFIGS:
            for N in N_GRID[:-1]:  # N = 1000 adds nothing to N = 250's repeats but 100 kB
                cases.append(sigma_case(kind, betas, N))
    for T in (1000, 4000, 100):
        for N in N_GRID:
            if N > T:
                continue
            seq = ddim_quad(T, N)
            cases.append({"source": f"ermongroup/ddim runners/diffusion.py skip_type quad @ {DDIM_COMMIT[:12]}",
                          "spacing": "quadratic", "beta_schedule": None, "T": T, "N": N,
                          "timesteps": sorted(seq, reverse=True), "fractional_timesteps": None, "sigmas": None,
                          "has_duplicates": len(set(seq)) != len(seq)})
    for c in cases:
        print(f"{c['spacing']} {c['beta_schedule']} T={c['T']} N={c['N']}: duplicates {c['has_duplicates']}")
    return {"meta": meta("Karras (rho 7) and uniform-log-SNR timesteps from diffusers' DPMSolverMultistepScheduler "
                         "(use_karras_sigmas / use_lu_lambdas, T = 1000, rounded as diffusers rounds them), and the "
                         "DDIM paper's quadratic rule from its official code."),
            "cases": cases}


def make_sde() -> dict:
    runs = []
    for name, kw in (("sdedpmpp2m_linspace10", {"num_inference_steps": 10}),
                     ("sdedpmpp2m_linspace25", {"num_inference_steps": 25}),
                     ("sdedpmpp2m_custom_uniform10", {"timesteps": mg.UNIFORM10})):
        s = DPMSolverMultistepScheduler(algorithm_type="sde-dpmsolver++", solver_order=2)
        runs.append(mg.run_parity(name, s, kw, {}, "dpm"))
    for name, pred in (("sdedpmpp2m_v_prediction_custom_uniform10", "v_prediction"),):
        s = DPMSolverMultistepScheduler(algorithm_type="sde-dpmsolver++", solver_order=2, prediction_type=pred)
        runs.append(mg.run_parity(name, s, {"timesteps": mg.UNIFORM10}, {}, "dpm"))
    f = mg._parity_file("", runs)
    f["meta"] = meta("diffusers DPMSolverMultistepScheduler.step parity runs (sde-dpmsolver++, solver_order=2, "
                     "defaults otherwise: midpoint, lower_order_final, final_sigmas_type='zero'). The scheduler "
                     "draws one randn per sample on every step, the last included (where it is multiplied by 0).")
    return f


def f64_alphas_cumprod(T: int = 1000) -> np.ndarray:
    betas = np.linspace(1e-4, 0.02, T, dtype=np.float64)
    return np.cumprod(1.0 - betas)


def kd_t_to_sigma(t: np.ndarray, ac: np.ndarray) -> np.ndarray:
    """k-diffusion DiscreteSchedule.t_to_sigma: linear interpolation of log sigma, float64."""
    log_sigmas = np.log(((1 - ac) / ac) ** 0.5)
    t = np.asarray(t, dtype=np.float64)
    low = np.floor(t).astype(np.int64)
    high = np.minimum(np.ceil(t).astype(np.int64), len(ac) - 1)
    w = t - low
    return np.exp((1 - w) * log_sigmas[low] + w * log_sigmas[high])


def kd_sigma_to_t(sigma: float, ac: np.ndarray) -> float:
    """diffusers _sigma_to_t (= k-diffusion DiscreteSchedule.sigma_to_t with quantize=False), float64."""
    log_sigmas = np.log(((1 - ac) / ac) ** 0.5)
    log_sigma = np.log(sigma)
    dists = log_sigma - log_sigmas[:, None] if np.ndim(log_sigma) else log_sigma - log_sigmas
    low = int(np.clip(np.cumsum(dists >= 0).argmax(), 0, len(log_sigmas) - 2))
    w = np.clip((log_sigmas[low] - log_sigma) / (log_sigmas[low] - log_sigmas[low + 1]), 0, 1)
    return float((1 - w) * low + w * (low + 1))


def fake_eps(x_in: torch.Tensor, t: float, sigma: float) -> torch.Tensor:
    """The fake network at fractional time: eps = 0.9*x*s + 0.1*sin(3x + t/100), s = sigma/sqrt(1+sigma^2)."""
    s = torch.tensor(sigma / (1 + sigma * sigma) ** 0.5, dtype=x_in.dtype)
    c = torch.tensor(t / 100.0, dtype=x_in.dtype)
    return 0.9 * x_in * s + 0.1 * torch.sin(3 * x_in + c)


def euler_run(name: str, spacing: str, N: int) -> dict:
    gens = mg._generators()
    s = EulerAncestralDiscreteScheduler(timestep_spacing=spacing if spacing in ("leading", "trailing") else "linspace")
    s.set_timesteps(N)
    ac = f64_alphas_cumprod()
    if spacing == "kdiffusion-linspace":
        t = np.linspace(999, 0, N, dtype=np.float64)
        sig = kd_t_to_sigma(t, ac)
    elif spacing == "kdiffusion-karras":
        sig_all = ((1 - ac) / ac) ** 0.5
        ramp = np.linspace(0, 1, N)
        lo, hi = sig_all[0] ** (1 / 7), sig_all[-1] ** (1 / 7)
        sig = (hi + ramp * (lo - hi)) ** 7
        t = np.array([kd_sigma_to_t(v, ac) for v in sig])
    if spacing.startswith("kdiffusion"):
        s.timesteps = torch.from_numpy(t)
        s.sigmas = torch.from_numpy(np.concatenate([sig, [0.0]]))
    x = mg._ORIGINAL_RANDN((mg.BATCH,) + mg.SAMPLE_SHAPE, generator=gens) * s.init_noise_sigma
    x = x.to(torch.float32)
    x_T = x.clone()
    steps = []
    for k, tt in enumerate(s.timesteps):
        sigma = float(s.sigmas[k])
        x_in = s.scale_model_input(x, tt).to(torch.float32)
        out = fake_eps(x_in, float(tt), sigma)
        states = [g.get_state() for g in gens]
        mg._DRAWS.clear()
        res = s.step(out, tt, x, generator=gens)
        draws = list(mg._DRAWS)
        mg._DRAWS.clear()
        mg._check_noise(states, [g.get_state() for g in gens], draws)
        steps.append({"t": float(tt), "sigma": sigma, "sigma_next": float(s.sigmas[k + 1]),
                      "x": mg.f32list(x), "model_input": mg.f32list(x_in), "model_output": mg.f32list(out),
                      "noise": mg.f32list(draws[0]) if draws else None,
                      "prev_sample": mg.f32list(res.prev_sample)})
        x = res.prev_sample
    print(f"{name}: {len(steps)} steps, t {[round(v['t'], 3) for v in steps[:3]]}...")
    return {"name": name, "spacing": spacing, "N": N, "init_noise_sigma": float(s.init_noise_sigma),
            "timesteps": [float(v) for v in s.timesteps.tolist()], "sigmas": [float(v) for v in s.sigmas.tolist()],
            "batch": mg.BATCH, "sample_shape": list(mg.SAMPLE_SHAPE), "seeds": [mg.SEED + i for i in range(mg.BATCH)],
            "x_T": mg.f32list(x_T), "steps": steps, "final_sample": mg.f32list(x)}


def make_euler() -> dict:
    runs = [euler_run("euler_ancestral_leading10", "leading", 10),
            euler_run("euler_ancestral_trailing25", "trailing", 25),
            euler_run("euler_ancestral_kdiffusion_linspace10", "kdiffusion-linspace", 10),
            euler_run("euler_ancestral_kdiffusion_karras10", "kdiffusion-karras", 10)]
    return {"meta": meta("diffusers EulerAncestralDiscreteScheduler.step parity runs (T = 1000 linear betas, "
                         "epsilon prediction). x is diffusers' variance-exploding sample (x_T = randn * "
                         "init_noise_sigma), model_input = scale_model_input(x, t) = x / sqrt(sigma^2 + 1), "
                         "model_output = 0.9*model_input*s + 0.1*sin(3*model_input + t/100) with "
                         "s = sigma/sqrt(1+sigma^2) in float32. The kdiffusion runs replace the scheduler's "
                         "sigmas/timesteps by k-diffusion's (float64 formulas, see the script). The scheduler "
                         "draws one randn per sample on every step, the last included (weight 0)."),
            "runs": runs}


RESTART_CONFIG = {"main_steps": 18, "restart_info": {"0": [3, 2, 0.06, 0.30]}, "rho": 7,
                  "sigma_min": 0.002, "sigma_max": 80.0}


def karras_grid(high: float, low: float, n: int, rho: float) -> list[float]:
    return [(high ** (1 / rho) + i / (n - 1) * (low ** (1 / rho) - high ** (1 / rho))) ** rho for i in range(n)]


def restart_run(name: str, main_steps: int) -> dict:
    ac = f64_alphas_cumprod()
    sig_table = ((1 - ac) / ac) ** 0.5
    rho = RESTART_CONFIG["rho"]
    n_restart, K, t_min, t_max = RESTART_CONFIG["restart_info"]["0"]
    smax = min(RESTART_CONFIG["sigma_max"], float(sig_table[-1]))
    smin = max(RESTART_CONFIG["sigma_min"], float(sig_table[0]))
    t_steps = karras_grid(smax, smin, main_steps, rho) + [0.0]
    r = int(np.argmin(np.abs(np.array(t_steps) - t_min)))
    gens = mg._generators()
    z = mg._ORIGINAL_RANDN((mg.BATCH,) + mg.SAMPLE_SHAPE, generator=gens)
    x = z.to(torch.float64) * t_steps[0]
    x_T = z.clone()
    evals = []

    def denoise(x_ve: torch.Tensor, sigma: float):
        t = kd_sigma_to_t(sigma, ac)
        x_in = x_ve / (1 + sigma * sigma) ** 0.5
        out = fake_eps(x_in, t, sigma)
        ev = {"sigma": sigma, "t": t, "x": mg.f64list(x_ve.numpy()), "model_input": mg.f64list(x_in.numpy()),
              "model_output": mg.f64list(out.numpy())}
        evals.append(ev)
        return x_ve - sigma * out, ev

    def heun(x_cur, t_cur, t_next, second):
        den, ev = denoise(x_cur, t_cur)
        d_cur = (x_cur - den) / t_cur
        x_next = x_cur + (t_next - t_cur) * d_cur
        ev["out_sigma"], ev["noise"], ev["result"] = t_next, None, mg.f64list(x_next.numpy())
        if second:
            den, ev = denoise(x_next, t_next)
            d_prime = (x_next - den) / t_next
            x_next = x_cur + (t_next - t_cur) * (0.5 * d_cur + 0.5 * d_prime)
            ev["out_sigma"], ev["noise"], ev["result"] = t_next, None, mg.f64list(x_next.numpy())
        return x_next

    for i in range(main_steps):
        x = heun(x, t_steps[i], t_steps[i + 1], i < main_steps - 1)
        if i + 1 == r:
            grid = karras_grid(t_max, t_steps[r], n_restart, rho)
            for _ in range(K):
                noise = mg._ORIGINAL_RANDN((mg.BATCH,) + mg.SAMPLE_SHAPE, generator=gens).to(torch.float64)
                x = x + noise * (grid[0] ** 2 - grid[-1] ** 2) ** 0.5
                evals[-1]["out_sigma"], evals[-1]["noise"] = grid[0], mg.f64list(noise.numpy())
                evals[-1]["result"] = mg.f64list(x.numpy())
                for j in range(n_restart - 1):
                    x = heun(x, grid[j], grid[j + 1], True)
    print(f"{name}: {main_steps} main steps, restart index {r} (sigma {t_steps[r]:.5f}), NFE {len(evals)}")
    return {"name": name, "main_steps": main_steps, "nfe": len(evals), "restart_index": r,
            "main_sigmas": t_steps, "batch": mg.BATCH, "sample_shape": list(mg.SAMPLE_SHAPE),
            "seeds": [mg.SEED + i for i in range(mg.BATCH)], "x_T_normal": mg.f32list(x_T),
            "evaluations": evals, "final_sample": mg.f64list(x.numpy())}


def make_restart() -> dict:
    runs = [restart_run("restart_cifar10_vp_18", 18), restart_run("restart_budget25_9", 9)]
    return {"meta": meta("Restart sampling, float64, the CIFAR-10 VP configuration " + json.dumps(RESTART_CONFIG)
                         + " on T = 1000 float64 linear betas; see the script's docstring. x is the variance-"
                         "exploding sample (x_T = sigma_0 * randn), every network evaluation records its "
                         "input x, sigma, fractional t, model_input = x/sqrt(1+sigma^2), model_output (the "
                         "fake eps of euler_ancestral.json in float64), and the x it produced (result) at "
                         "out_sigma, after the Restart noise when the evaluation ends a segment that restarts."),
            "runs": runs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    ap.add_argument("--allow-other-versions", action="store_true")
    ap.add_argument("--out", type=Path, default=mg.OUT_DIR)
    args = ap.parse_args()
    mg._check_versions(args.allow_other_versions)
    torch.set_num_threads(1)
    files = {"spacings_beyond.json": make_spacings(), "dpmsolver_sde.json": make_sde(),
             "euler_ancestral.json": make_euler(), "restart.json": make_restart()}
    failed = False
    for fname, obj in files.items():
        text = mg.dumps(obj)
        assert json.loads(text) == json.loads(json.dumps(obj))
        path = args.out / fname
        if args.check:
            same = path.exists() and path.read_text() == text
            print(f"{fname}: {'identical' if same else 'DIFFERS'}")
            failed |= not same
        else:
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
            print(f"wrote {path} ({len(text.encode())} bytes)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
