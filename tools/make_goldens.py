#!/usr/bin/env python3
"""Make the scheduler golden fixtures in Tests/Fixtures/schedulers/ from the reference implementations.

Command (run from the repository root; needs no network and no GPU):

    python tools/make_goldens.py            # (re)write the fixtures
    python tools/make_goldens.py --check    # regenerate in memory, compare with the files on disk

Versions that produced the checked-in files (the script refuses other versions unless
--allow-other-versions is given, because goldens must be reproducible bit for bit):

    Python 3.11.7, torch 2.13.0+cpu, diffusers 0.42.1, numpy 2.4.6   (scipy 1.17.1 installed, not used)

The output is deterministic: there are no timestamps, every random draw comes from explicitly seeded
CPU torch.Generator objects, torch runs single-threaded, and JSON is written with a fixed key order.
Rerunning gives byte-identical files (`--check` verifies that).

Files written (schemas in Tests/Fixtures/schedulers/README.md):

    spacings.json   timestep spacings: guided-diffusion `space_timesteps` ("uniform", "ddim"),
                    diffusers DDIMScheduler / DDPMScheduler `set_timesteps` ("leading", "trailing",
                    "linspace") and DPMSolverMultistepScheduler default ("dpm_linspace").
    betas.json      beta schedules and alphas_cumprod, diffusers (float32 as held, plus float64 recomputed
                    with the same formulas) and guided-diffusion (float64).
    ddpm.json       parity runs of diffusers DDPMScheduler.step,
    ddim.json       ... DDIMScheduler.step,
    dpmsolver.json  ... DPMSolverMultistepScheduler.step (DPM-Solver++(2M)),
                    each with every step's input, model output, the variance noise actually drawn, and output.

guided-diffusion (openai/guided-diffusion) is not on PyPI. Its `space_timesteps`
(guided_diffusion/respace.py) and `get_named_beta_schedule` / `betas_for_alpha_bar`
(guided_diffusion/gaussian_diffusion.py) were read at commit aca3097a89fab9c9962b22224d5f48950eb57e29
and are re-expressed below with identical arithmetic (same operations in the same order, Python
`round` = half-to-even, same float64 numpy calls) rather than pasted; `_self_check` pins the values
docs/ARCHITECTURE.md (Time and schedules) quotes from the original.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import torch

import diffusers
import diffusers.schedulers.scheduling_ddim as _ddim_mod
import diffusers.schedulers.scheduling_ddpm as _ddpm_mod
import diffusers.schedulers.scheduling_dpmsolver_multistep as _dpm_mod
import diffusers.utils.torch_utils as _torch_utils
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

EXPECTED_VERSIONS = {
    "python": "3.11.7",
    "torch": "2.13.0+cpu",
    "diffusers": "0.42.1",
    "numpy": "2.4.6",
}
GUIDED_DIFFUSION_COMMIT = "aca3097a89fab9c9962b22224d5f48950eb57e29"
COMMAND = "python tools/make_goldens.py"

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "Tests" / "Fixtures" / "schedulers"

SEED = 7
BATCH = 2
SAMPLE_SHAPE = (1, 4, 4)


# --------------------------------------------------------------------------------------------------
# guided-diffusion, re-expressed (openai/guided-diffusion @ aca3097a89fab9c9962b22224d5f48950eb57e29)
# --------------------------------------------------------------------------------------------------

def gd_space_timesteps(num_timesteps: int, section_counts) -> set[int]:
    """guided_diffusion/respace.py `space_timesteps`, same semantics and arithmetic.

    "ddimN": the first integer stride i in 1..num_timesteps-1 with len(range(0, T, i)) == N, else
    ValueError (whose message, in the original, names num_timesteps, not N; kept).
    Otherwise comma-separated section counts; each section of `size` steps takes `count` indices
    round(cur) with cur a running float sum of (size-1)/(count-1) (stride 1 when count <= 1).
    """
    if isinstance(section_counts, str):
        if section_counts.startswith("ddim"):
            wanted = int(section_counts[4:])
            for stride in range(1, num_timesteps):
                if len(range(0, num_timesteps, stride)) == wanted:
                    return set(range(0, num_timesteps, stride))
            raise ValueError(f"cannot create exactly {num_timesteps} steps with an integer stride")
        section_counts = [int(part) for part in section_counts.split(",")]
    base_size, remainder = num_timesteps // len(section_counts), num_timesteps % len(section_counts)
    offset = 0
    steps: list[int] = []
    for index, count in enumerate(section_counts):
        size = base_size + (1 if index < remainder else 0)
        if size < count:
            raise ValueError(f"cannot divide section of {size} steps into {count}")
        stride = 1 if count <= 1 else (size - 1) / (count - 1)
        position = 0.0
        for _ in range(count):
            steps.append(offset + round(position))  # Python round: half to even
            position += stride  # running sum, not index * stride
        offset += size
    return set(steps)


def gd_betas_for_alpha_bar(num_diffusion_timesteps: int, alpha_bar, max_beta: float = 0.999) -> np.ndarray:
    """guided_diffusion/gaussian_diffusion.py `betas_for_alpha_bar` (Python floats, then np.array float64)."""
    out = []
    for i in range(num_diffusion_timesteps):
        lo = i / num_diffusion_timesteps
        hi = (i + 1) / num_diffusion_timesteps
        out.append(min(1 - alpha_bar(hi) / alpha_bar(lo), max_beta))
    return np.array(out)


def gd_get_named_beta_schedule(schedule_name: str, num_diffusion_timesteps: int) -> np.ndarray:
    """guided_diffusion/gaussian_diffusion.py `get_named_beta_schedule` ("linear" is scaled by 1000/T)."""
    if schedule_name == "linear":
        scale = 1000 / num_diffusion_timesteps
        return np.linspace(scale * 0.0001, scale * 0.02, num_diffusion_timesteps, dtype=np.float64)
    if schedule_name == "cosine":
        return gd_betas_for_alpha_bar(
            num_diffusion_timesteps,
            lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2,
        )
    raise NotImplementedError(f"unknown beta schedule: {schedule_name}")


def gd_alphas_cumprod(betas: np.ndarray) -> np.ndarray:
    """GaussianDiffusion.__init__: np.cumprod(1.0 - betas) in float64."""
    betas = np.array(betas, dtype=np.float64)
    return np.cumprod(1.0 - betas, axis=0)


def _self_check() -> None:
    """Values docs/ARCHITECTURE.md (Time and schedules) quotes from guided-diffusion; guards the re-expression above."""
    s25 = sorted(gd_space_timesteps(1000, "25"))
    assert s25[:9] == [0, 42, 83, 125, 166, 208, 250, 291, 333], s25[:9]
    s7 = sorted(gd_space_timesteps(1000, "7"))
    assert 166 in s7 and 832 in s7, s7
    s21 = sorted(gd_space_timesteps(1000, "21"))
    assert 499 in s21 and 500 not in s21, s21
    assert sorted(gd_space_timesteps(1000, "10")) == [0, 111, 222, 333, 444, 555, 666, 777, 888, 999]
    assert sorted(gd_space_timesteps(1000, "ddim10")) == list(range(0, 1000, 100))


# --------------------------------------------------------------------------------------------------
# JSON writing: fixed key order, lists of numbers on one line, floats via repr (exact round-trip)
# --------------------------------------------------------------------------------------------------

def _is_scalar(v) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def _dump(obj, indent: int = 0) -> str:
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if _is_scalar(obj):
        return json.dumps(obj, allow_nan=False)
    if isinstance(obj, list):
        if all(_is_scalar(v) for v in obj):
            return "[" + ",".join(json.dumps(v, allow_nan=False) for v in obj) + "]"
        return "[\n" + ",\n".join(inner + _dump(v, indent + 1) for v in obj) + "\n" + pad + "]"
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        if all(_is_scalar(v) for v in obj.values()):
            one_line = "{" + ", ".join(f"{json.dumps(k)}: {_dump(v)}" for k, v in obj.items()) + "}"
            if len(one_line) <= 160:
                return one_line
        return (
            "{\n"
            + ",\n".join(f"{inner}{json.dumps(k)}: {_dump(v, indent + 1)}" for k, v in obj.items())
            + "\n" + pad + "}"
        )
    raise TypeError(f"not JSON-serialisable here: {type(obj)}")


def dumps(obj) -> str:
    return _dump(obj) + "\n"


def f32list(t: torch.Tensor) -> list[float]:
    """Flattened (row-major) float32 tensor as exact Python floats."""
    assert t.dtype == torch.float32, t.dtype
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def f64list(a) -> list[float]:
    a = np.asarray(a)
    assert a.dtype == np.float64, a.dtype
    return [float(v) for v in a.reshape(-1).tolist()]


def f32(t) -> float:
    """A 0-d float32 tensor (or Python number) as an exact Python float."""
    if isinstance(t, torch.Tensor):
        assert t.dtype == torch.float32 and t.numel() == 1, (t.dtype, t.shape)
        return float(t.item())
    return float(t)


def meta(description: str) -> dict:
    return {
        "generated_by": "tools/make_goldens.py",
        "command": COMMAND,
        "versions": {
            "python": ".".join(map(str, sys.version_info[:3])),
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
            "numpy": np.__version__,
        },
        "description": description,
    }


def scheduler_config(s) -> dict:
    """The scheduler's config as diffusers serialises it (to_json_string), minus the version stamp."""
    cfg = json.loads(s.to_json_string())
    cfg.pop("_diffusers_version", None)
    # JSON has no infinities: diffusers' lambda_min_clipped defaults to -inf; write it as the string "-inf"
    return {k: (("-inf" if v < 0 else "inf") if isinstance(v, float) and math.isinf(v) else v)
            for k, v in cfg.items()}


# --------------------------------------------------------------------------------------------------
# 1. spacings.json
# --------------------------------------------------------------------------------------------------

N_GRID = [1, 2, 7, 10, 21, 25, 50, 100, 250, 1000]


def n_values(T: int) -> list[int]:
    # Every N of the grid plus T itself; N > T is kept so that the library's own rejection
    # (or acceptance) is recorded.
    out = list(N_GRID)
    if T not in out:
        out.append(T)
    return out


def _case(source, spacing, T, N, offset, fn) -> dict:
    try:
        ts = fn()
        ts = [int(v) for v in ts]
        err = None
    except ValueError as e:  # the library's own rejection
        ts, err = None, str(e)
    return {"source": source, "spacing": spacing, "T": T, "N": N, "steps_offset": offset,
            "timesteps": ts, "error": err}


def make_spacings() -> dict:
    cases = []
    gd_src = f"guided-diffusion respace.py space_timesteps @ {GUIDED_DIFFUSION_COMMIT[:12]}"
    for spacing, arg in (("uniform", lambda n: str(n)), ("ddim", lambda n: f"ddim{n}")):
        for T in (1000, 4000, 100, 50):
            for N in n_values(T):
                cases.append(_case(gd_src, spacing, T, N, 0,
                                   lambda: sorted(gd_space_timesteps(T, arg(N)), reverse=True)))

    differences = []
    for T in (1000, 100, 50):
        for spacing, offsets in (("leading", (0, 1)), ("trailing", (0,)), ("linspace", (0,))):
            for offset in offsets:
                for N in n_values(T):
                    def via(cls):
                        def f():
                            s = cls(num_train_timesteps=T, timestep_spacing=spacing, steps_offset=offset)
                            s.set_timesteps(N)
                            return s.timesteps.tolist()
                        return f
                    ddim = _case("diffusers DDIMScheduler.set_timesteps", spacing, T, N, offset,
                                 via(DDIMScheduler))
                    ddpm = _case("diffusers DDPMScheduler.set_timesteps", spacing, T, N, offset,
                                 via(DDPMScheduler))
                    cases.append(ddim)
                    if (ddpm["timesteps"], ddpm["error"]) != (ddim["timesteps"], ddim["error"]):
                        cases.append(ddpm)
                        differences.append((spacing, T, N, offset))

    for T in (1000, 100, 50):
        for N in n_values(T):
            def f():
                s = DPMSolverMultistepScheduler(num_train_timesteps=T)
                s.set_timesteps(N)
                return s.timesteps.tolist()
            cases.append(_case("diffusers DPMSolverMultistepScheduler.set_timesteps (defaults)",
                               "dpm_linspace", T, N, 0, f))

    print(f"spacings: {len(cases)} cases; DDPM differs from DDIM in {len(differences)}: {differences}")
    return {
        "meta": meta("Sampling schedules (descending model indices) as each reference builds them; "
                     "timesteps null and error set where the reference raises ValueError."),
        "cases": cases,
    }


# --------------------------------------------------------------------------------------------------
# 2. betas.json
# --------------------------------------------------------------------------------------------------

def _rescale_zero_terminal_snr_f64(betas: np.ndarray) -> np.ndarray:
    """diffusers `rescale_zero_terminal_snr` (arXiv 2305.08891 Algorithm 1) in numpy float64."""
    alphas_cumprod = np.cumprod(1.0 - betas)
    sq = np.sqrt(alphas_cumprod)
    sq0, sqT = sq[0], sq[-1]
    sq = (sq - sqT) * (sq0 / (sq0 - sqT))
    abar = sq ** 2
    alphas = np.concatenate([abar[:1], abar[1:] / abar[:-1]])
    return 1.0 - alphas


def _diffusers_f64_betas(schedule: str, T: int, start: float, end: float, rescale: bool) -> np.ndarray:
    if schedule == "linear":
        b = np.linspace(start, end, T, dtype=np.float64)
    elif schedule == "scaled_linear":
        b = np.linspace(start ** 0.5, end ** 0.5, T, dtype=np.float64) ** 2
    elif schedule == "squaredcos_cap_v2":
        # diffusers betas_for_alpha_bar("cosine"): identical Python-float loop, before torch.tensor(float32)
        b = gd_betas_for_alpha_bar(T, lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2)
    elif schedule == "sigmoid":
        x = np.linspace(-6.0, 6.0, T, dtype=np.float64)
        b = 1.0 / (1.0 + np.exp(-x)) * (end - start) + start
    else:
        raise ValueError(schedule)
    if rescale:
        b = _rescale_zero_terminal_snr_f64(b)
    return b


def make_betas() -> dict:
    T = 1000
    schedules = []
    specs = [
        ("linear", False, DDPMScheduler),
        ("scaled_linear", False, DDPMScheduler),
        ("squaredcos_cap_v2", False, DDPMScheduler),
        ("sigmoid", False, DDPMScheduler),  # DDIMScheduler does not implement "sigmoid"
        ("linear", True, DDIMScheduler),
    ]
    for schedule, rescale, cls in specs:
        s = cls(num_train_timesteps=T, beta_schedule=schedule, rescale_betas_zero_snr=rescale)
        # the other class must hold the same tables where it supports the schedule
        for other in (DDPMScheduler, DDIMScheduler):
            try:
                o = other(num_train_timesteps=T, beta_schedule=schedule, rescale_betas_zero_snr=rescale)
            except NotImplementedError:
                continue
            assert torch.equal(o.betas, s.betas) and torch.equal(o.alphas_cumprod, s.alphas_cumprod), other
        start, end = s.config.beta_start, s.config.beta_end
        b64 = _diffusers_f64_betas(schedule, T, start, end, rescale)
        a64 = np.cumprod(1.0 - b64)
        # docs/ARCHITECTURE.md, Parity pitfalls: torch.cumprod (float32) == double accumulation of the float32 alphas, rounded
        emu = np.cumprod((1.0 - s.betas).numpy().astype(np.float64)).astype(np.float32)
        cumprod_rule = bool(np.array_equal(emu, s.alphas_cumprod.numpy()))
        name = f"diffusers/{schedule}" + ("+zero_snr" if rescale else "")
        schedules.append({
            "name": name,
            "source": f"diffusers {cls.__name__}(num_train_timesteps={T}, beta_schedule={schedule!r}"
                      + (", rescale_betas_zero_snr=True" if rescale else "") + ")",
            "T": T,
            "beta_schedule": schedule,
            "beta_start": float(start),
            "beta_end": float(end),
            "rescale_betas_zero_snr": rescale,
            "dtype": "float32",
            "cumprod_is_float64_accumulation_rounded": cumprod_rule,
            "betas": f32list(s.betas),
            "alphas_cumprod": f32list(s.alphas_cumprod),
            "betas_f64": f64list(b64),
            "alphas_cumprod_f64": f64list(a64),
        })
        print(f"betas {name}: max |f32-f64| beta {np.abs(s.betas.numpy() - b64).max():.3g}, "
              f"abar {np.abs(s.alphas_cumprod.numpy() - a64).max():.3g}; cumprod rule {cumprod_rule}")
    for schedule in ("linear", "cosine"):
        for T in (1000, 4000):
            b = gd_get_named_beta_schedule(schedule, T)
            schedules.append({
                "name": f"guided-diffusion/{schedule}",
                "source": f"guided-diffusion gaussian_diffusion.py get_named_beta_schedule({schedule!r}, {T})"
                          f" @ {GUIDED_DIFFUSION_COMMIT[:12]}",
                "T": T,
                "beta_schedule": schedule,
                "beta_start": float(b[0]),
                "beta_end": float(b[-1]),
                "rescale_betas_zero_snr": False,
                "dtype": "float64",
                "betas": f64list(b),
                "alphas_cumprod": f64list(gd_alphas_cumprod(b)),
            })
    return {
        "meta": meta("Beta schedules and alphas_cumprod (index j = 0..T-1) as each library holds them."),
        "schedules": schedules,
    }


# --------------------------------------------------------------------------------------------------
# 3. parity runs
# --------------------------------------------------------------------------------------------------

_ORIGINAL_RANDN = _torch_utils.randn_tensor
_DRAWS: list[torch.Tensor] = []


def _recording_randn_tensor(*args, **kwargs):
    out = _ORIGINAL_RANDN(*args, **kwargs)
    _DRAWS.append(out.detach().clone())
    return out


# the schedulers call the name they imported into their own module; patch exactly those names
for _m in (_ddpm_mod, _ddim_mod, _dpm_mod):
    assert _m.randn_tensor is _ORIGINAL_RANDN
    _m.randn_tensor = _recording_randn_tensor

# The fake model's alphas_cumprod: diffusers' float32 table for T=1000 linear betas.
_MODEL_ABAR = DDPMScheduler().alphas_cumprod.clone()
MODEL_FORMULA = (
    "eps(x, t) = 0.9*x*s + 0.1*sin(3*x + c), all float32, evaluated as "
    "((0.9*x)*s) + (0.1*sin((3*x) + c)) with s = sqrt(1 - abar32[t]) (float32 sqrt of float32 1-abar), "
    "c = float32(t)/float32(100) (float32 division), abar32 = diffusers' float32 alphas_cumprod for "
    "T=1000 linear betas (betas.json 'diffusers/linear'), python scalars 0.9, 0.1, 3 rounded to float32. "
    "sin is torch's float32 CPU sin (not always correctly rounded: about 1.6% of these outputs differ by "
    "1 ulp from a correctly rounded sin), so tests should feed the recorded model_output, not recompute it"
)


def fake_model(x: torch.Tensor, t) -> torch.Tensor:
    ti = int(t)
    s = torch.sqrt(1 - _MODEL_ABAR[ti])
    c = torch.tensor(float(ti), dtype=torch.float32) / torch.tensor(100.0, dtype=torch.float32)
    out = 0.9 * x * s + 0.1 * torch.sin(3 * x + c)
    assert out.dtype == torch.float32
    return out


def _generators() -> list[torch.Generator]:
    return [torch.Generator().manual_seed(SEED + i) for i in range(BATCH)]


def _check_noise(states_before, states_after, draws) -> None:
    """The recorded draw is the noise the scheduler used: replaying the generators reproduces it
    bit for bit and leaves them in the same state; with no draw, the generators did not move."""
    if not draws:
        for a, b in zip(states_before, states_after):
            assert torch.equal(a, b), "generator advanced without a recorded draw"
        return
    assert len(draws) == 1, f"{len(draws)} draws in one step"
    replay = []
    for i, st in enumerate(states_before):
        g = torch.Generator()
        g.set_state(st)
        replay.append(torch.randn((1,) + SAMPLE_SHAPE, generator=g, dtype=torch.float32))
        assert torch.equal(g.get_state(), states_after[i]), "generator state differs after replay"
    assert torch.equal(torch.cat(replay), draws[0]), "replayed noise differs from the recorded draw"


def _coeffs_ddpm(s: DDPMScheduler, t) -> dict:
    prev_t = s.previous_timestep(t)
    a_t = s.alphas_cumprod[t]
    a_p = s.alphas_cumprod[prev_t] if prev_t >= 0 else s.one
    beta_prod_t, beta_prod_p = 1 - a_t, 1 - a_p
    cur_alpha = a_t / a_p
    cur_beta = 1 - cur_alpha
    var = s._get_variance(t) if int(t) > 0 else None
    return {
        "prev_t": int(prev_t),
        "alpha_prod_t": f32(a_t),
        "alpha_prod_t_prev": f32(a_p),
        "pred_original_sample_coeff": f32((a_p ** 0.5 * cur_beta) / beta_prod_t),
        "current_sample_coeff": f32(cur_alpha ** 0.5 * beta_prod_p / beta_prod_t),
        "variance": None if var is None else f32(var),
        "std": None if var is None else f32(var ** 0.5),
    }


def _coeffs_ddim(s: DDIMScheduler, t, eta: float) -> dict:
    prev_t = t - s.config.num_train_timesteps // s.num_inference_steps
    a_t = s.alphas_cumprod[t]
    a_p = s.alphas_cumprod[prev_t] if prev_t >= 0 else s.final_alpha_cumprod
    var = s._get_variance(t, prev_t)
    std = eta * var ** 0.5
    return {
        "prev_t": int(prev_t),
        "alpha_prod_t": f32(a_t),
        "alpha_prod_t_prev": f32(a_p),
        "variance": f32(var),
        "std_dev_t": f32(std),
        "direction_coeff": f32((1 - a_p - std ** 2) ** 0.5),
    }


def _coeffs_dpm(s: DPMSolverMultistepScheduler, index: int, order: int) -> dict:
    sig_t, sig_s0 = s.sigmas[index + 1], s.sigmas[index]
    alpha_t, sigma_t = s._sigma_to_alpha_sigma_t(sig_t)
    alpha_s0, sigma_s0 = s._sigma_to_alpha_sigma_t(sig_s0)
    lam_t = torch.log(alpha_t) - torch.log(sigma_t)
    lam_s0 = torch.log(alpha_s0) - torch.log(sigma_s0)
    h = lam_t - lam_s0
    d = {
        "step_index": index,
        "order": order,
        "sigma_s0": f32(sig_s0),
        "sigma_t": f32(sig_t),
        "alpha_s0": f32(alpha_s0),
        "sigma_s0_vp": f32(sigma_s0),
        "alpha_t": f32(alpha_t),
        "sigma_t_vp": f32(sigma_t),
        "lambda_s0": f32(lam_s0),
        "lambda_t": None if math.isinf(float(lam_t)) else f32(lam_t),
        "h": None if math.isinf(float(h)) else f32(h),
    }
    if order == 2:
        alpha_s1, sigma_s1 = s._sigma_to_alpha_sigma_t(s.sigmas[index - 1])
        lam_s1 = torch.log(alpha_s1) - torch.log(sigma_s1)
        d["lambda_s1"] = f32(lam_s1)
        d["r0"] = f32((lam_s0 - lam_s1) / h)
    return d


def run_parity(name: str, scheduler, set_kwargs: dict, step_kwargs: dict, kind: str) -> dict:
    gens = _generators()
    x = _ORIGINAL_RANDN((BATCH,) + SAMPLE_SHAPE, generator=gens)  # per-sample torch.randn, like pipelines
    x_T = x.clone()
    scheduler.set_timesteps(**set_kwargs)
    timesteps = [int(v) for v in scheduler.timesteps.tolist()]
    steps = []
    for t in scheduler.timesteps:  # t is a 0-d int64 tensor, exactly as a pipeline passes it
        out = fake_model(x, t)
        if kind == "ddpm":
            coeffs = _coeffs_ddpm(scheduler, t)
        elif kind == "ddim":
            coeffs = _coeffs_ddim(scheduler, t, step_kwargs.get("eta", 0.0))
        else:
            lower_before = scheduler.lower_order_nums
        snapshot = copy.deepcopy(scheduler) if kind == "ddim" else None
        states = [g.get_state() for g in gens]
        _DRAWS.clear()
        res = scheduler.step(out, t, x, generator=gens, **step_kwargs)
        draws = list(_DRAWS)
        _DRAWS.clear()
        _check_noise(states, [g.get_state() for g in gens], draws)
        noise = draws[0] if draws else None
        if kind == "ddim" and noise is not None:
            # same step with the recorded noise passed explicitly gives the same result
            again = snapshot.step(out, t, x, variance_noise=noise, **step_kwargs)
            assert torch.equal(again.prev_sample, res.prev_sample)
        if kind == "dpm":
            index = scheduler.step_index - 1
            n = len(scheduler.timesteps)
            lof = index == n - 1 and (
                scheduler.config.euler_at_final
                or (scheduler.config.lower_order_final and n < 15)
                or scheduler.config.final_sigmas_type == "zero"
            )
            order = 1 if (scheduler.config.solver_order == 1 or lower_before < 1 or lof) else 2
            assert scheduler.config.solver_order <= 2
            coeffs = _coeffs_dpm(scheduler, index, order)
        rec = {
            "t": int(t),
            "x": f32list(x),
            "model_output": f32list(out),
            "noise": None if noise is None else f32list(noise),
            "prev_sample": f32list(res.prev_sample),
        }
        pos = getattr(res, "pred_original_sample", None)
        if pos is not None:
            rec["pred_original_sample"] = f32list(pos)
        if kind == "dpm":
            # diffusers' converted model output (data prediction x0) held in scheduler.model_outputs[-1]
            rec["x0_pred"] = f32list(scheduler.model_outputs[-1])
        rec["coeffs"] = coeffs
        steps.append(rec)
        x = res.prev_sample
    run = {
        "name": name,
        "scheduler": type(scheduler).__name__,
        "config": scheduler_config(scheduler),
        "set_timesteps": set_kwargs,
        "step_kwargs": step_kwargs,
        "timesteps": timesteps,
        "batch": BATCH,
        "sample_shape": list(SAMPLE_SHAPE),
        "seeds": [SEED + i for i in range(BATCH)],
        "x_T": f32list(x_T),
    }
    if kind == "dpm":
        run["sigmas"] = f32list(scheduler.sigmas)
    run["steps"] = steps
    run["final_sample"] = f32list(x)
    n_noise = sum(1 for s in steps if s["noise"] is not None)
    print(f"{name}: {len(steps)} steps, {n_noise} noise draws, timesteps {timesteps[:4]}...{timesteps[-2:]}")
    return run


def _parity_file(description: str, runs: list[dict]) -> dict:
    return {
        "meta": meta(description),
        "setup": {
            "seed": SEED,
            "generators": "[torch.Generator().manual_seed(SEED + i) for i in range(batch)] (CPU, MT19937)",
            "x_T": "diffusers.utils.torch_utils.randn_tensor((batch,) + sample_shape, generator=generators)"
                   " = cat of torch.randn((1,) + sample_shape, generator=generators[i])",
            "loop": "for t in scheduler.timesteps: out = model(x, t); "
                    "x = scheduler.step(out, t, x, generator=generators, **step_kwargs).prev_sample",
            "noise": "the tensor the scheduler's randn_tensor call returned in that step (recorded by wrapping "
                     "randn_tensor; verified by replaying the generator states); null when no draw happened",
            "layout": "every array is a flattened row-major (batch, C, H, W) float32 tensor, values as exact doubles",
            "model": MODEL_FORMULA,
        },
        "runs": runs,
    }


UNIFORM10 = sorted(gd_space_timesteps(1000, "10"), reverse=True)


def make_ddpm() -> dict:
    runs = []
    for name, kw in (("ddpm_custom_uniform10", {"timesteps": UNIFORM10}),
                     ("ddpm_leading50", {"num_inference_steps": 50})):
        s = DDPMScheduler(variance_type="fixed_small", clip_sample=False)
        runs.append(run_parity(name, s, kw, {}, "ddpm"))
    return _parity_file("diffusers DDPMScheduler.step parity runs (fixed_small, clip_sample=False).", runs)


def make_ddim() -> dict:
    runs = []
    for offset in (0, 1):
        for n, eta in ((10, 0.0), (10, 1.0), (50, 0.0)):
            s = DDIMScheduler(clip_sample=False, set_alpha_to_one=True, steps_offset=offset,
                              timestep_spacing="leading")
            runs.append(run_parity(f"ddim_leading{n}_offset{offset}_eta{int(eta)}", s,
                                   {"num_inference_steps": n}, {"eta": eta}, "ddim"))
    return _parity_file("diffusers DDIMScheduler.step parity runs (clip_sample=False, set_alpha_to_one=True, "
                        "leading spacing).", runs)


def make_dpm() -> dict:
    runs = []
    for name, kw in (("dpmpp2m_linspace10", {"num_inference_steps": 10}),
                     ("dpmpp2m_linspace25", {"num_inference_steps": 25}),
                     ("dpmpp2m_custom_uniform10", {"timesteps": UNIFORM10})):
        s = DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2)
        runs.append(run_parity(name, s, kw, {}, "dpm"))
    return _parity_file("diffusers DPMSolverMultistepScheduler.step parity runs (dpmsolver++, solver_order=2, "
                        "defaults otherwise: midpoint, lower_order_final, final_sigmas_type='zero').", runs)


def make_options() -> dict:
    """Prediction types, x0 clipping and dynamic thresholding (all off in the runs above)."""
    runs = []
    for pred in ("sample", "v_prediction"):
        s = DDPMScheduler(variance_type="fixed_small", clip_sample=False, prediction_type=pred)
        runs.append(run_parity(f"ddpm_{pred}_custom_uniform10", s, {"timesteps": UNIFORM10}, {}, "ddpm"))
        s = DDIMScheduler(clip_sample=False, prediction_type=pred)
        runs.append(run_parity(f"ddim_{pred}_leading10_eta0", s, {"num_inference_steps": 10}, {"eta": 0.0}, "ddim"))
        s = DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2, prediction_type=pred)
        runs.append(run_parity(f"dpmpp2m_{pred}_custom_uniform10", s, {"timesteps": UNIFORM10}, {}, "dpm"))
    s = DDPMScheduler(variance_type="fixed_small", clip_sample=True, clip_sample_range=1.0)
    runs.append(run_parity("ddpm_clip_custom_uniform10", s, {"timesteps": UNIFORM10}, {}, "ddpm"))
    # skipstep re-derives ε̂ from the clipped x̂₀ for every sampler: diffusers DDIM's
    # use_clipped_model_output=True.
    s = DDIMScheduler(clip_sample=True, clip_sample_range=1.0)
    runs.append(run_parity("ddim_clip_leading10_eta1", s, {"num_inference_steps": 10},
                           {"eta": 1.0, "use_clipped_model_output": True}, "ddim"))
    s = DDPMScheduler(variance_type="fixed_small", clip_sample=False, thresholding=True,
                      dynamic_thresholding_ratio=0.9, sample_max_value=1.5)
    runs.append(run_parity("ddpm_threshold_custom_uniform10", s, {"timesteps": UNIFORM10}, {}, "ddpm"))
    return _parity_file("diffusers scheduler parity runs with prediction types sample and v_prediction, "
                        "clip_sample, and dynamic thresholding (ratio 0.9, sample_max_value 1.5).", runs)


# --------------------------------------------------------------------------------------------------

def _check_versions(allow: bool) -> None:
    actual = {
        "python": ".".join(map(str, sys.version_info[:3])),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "numpy": np.__version__,
    }
    bad = {k: (v, EXPECTED_VERSIONS[k]) for k, v in actual.items() if v != EXPECTED_VERSIONS[k]}
    if bad:
        msg = "version mismatch (actual, expected): " + ", ".join(f"{k} {v}" for k, v in bad.items())
        if not allow:
            sys.exit(msg + "\nrerun with --allow-other-versions to write anyway")
        print("warning: " + msg, file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    ap.add_argument("--allow-other-versions", action="store_true")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args()
    _check_versions(args.allow_other_versions)
    torch.set_num_threads(1)
    _self_check()

    files = {
        "spacings.json": make_spacings(),
        "betas.json": make_betas(),
        "ddpm.json": make_ddpm(),
        "ddim.json": make_ddim(),
        "dpmsolver.json": make_dpm(),
        "options.json": make_options(),
    }
    failed = False
    if not args.check:
        args.out.mkdir(parents=True, exist_ok=True)
    for fname, obj in files.items():
        text = dumps(obj)
        assert json.loads(text) == json.loads(json.dumps(obj))  # the writer round-trips
        path = args.out / fname
        if args.check:
            same = path.exists() and path.read_text() == text
            print(f"{fname}: {'identical' if same else 'DIFFERS'}")
            failed |= not same
        else:
            tmp = path.with_suffix(".json.tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
            print(f"wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}"
                  f" ({len(text.encode())} bytes)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
