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
from diffusers import DPMSolverMultistepScheduler  # noqa: E402

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    ap.add_argument("--allow-other-versions", action="store_true")
    ap.add_argument("--out", type=Path, default=mg.OUT_DIR)
    args = ap.parse_args()
    mg._check_versions(args.allow_other_versions)
    torch.set_num_threads(1)
    files = {"spacings_beyond.json": make_spacings(), "dpmsolver_sde.json": make_sde()}
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
