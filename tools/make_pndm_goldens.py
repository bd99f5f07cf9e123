#!/usr/bin/env python3
"""Make the PNDMScheduler goldens, Tests/Fixtures/schedulers/pndm.json, for skipstep's `pndm` sampler.

Command (run from the repository root; needs no network and no GPU):

    python tools/make_pndm_goldens.py            # (re)write the fixture
    python tools/make_pndm_goldens.py --check    # regenerate in memory, compare with the file on disk

Versions that produced the checked-in file (refused otherwise unless --allow-other-versions):

    Python 3.11.7, torch 2.13.0+cpu, diffusers 0.42.1, numpy 2.4.6

It reuses tools/make_goldens.py's JSON writer (exact float round-trip, fixed key order) and is as
deterministic: rerunning gives a byte-identical file.

Each run is diffusers' own loop, as pipeline_stable_diffusion.py and pipeline_pndm.py drive it:

    scheduler.set_timesteps(N)
    for t in scheduler.timesteps:
        out = model(x, t); x = scheduler.step(out, t, x).prev_sample

in float32 (the samples, diffusers' float32 tables), around a fake deterministic model that both
sides can evaluate: out = float32(0.9*x*sqrt((t + 1)/1000) + 0.1*sin(3*x + t/100)), computed in
float64 (numpy) from the float32 sample x and the integer timestep t. Every evaluation is recorded:
t, the model output, and `prev_sample` (the sample given to the model and to `step` is the previous
evaluation's `prev_sample`, x_T for the first). x_T is
torch.randn((1, 1, 4, 4)) from torch.Generator().manual_seed(7 + i) for sample i = 0, 1.

Runs cover skip_prk_steps true (PLMS; Stable Diffusion's configs) and false (the Runge-Kutta
warm-up, PNDMScheduler's default), N in {1, 2, 4, 10, 25, 50}, timestep_spacing leading and
trailing, steps_offset 0 and 1, set_alpha_to_one true and false, prediction_type epsilon and
v_prediction, beta_schedule linear and scaled_linear (0.00085-0.012). linspace is left out:
there diffusers' `prev_timestep = t - T // N` is not the next listed timestep, and skipstep steps
to the next listed one (docs/ARCHITECTURE.md, Parity pitfalls).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_goldens as mg  # noqa: E402
from diffusers import PNDMScheduler  # noqa: E402

COMMAND = "python tools/make_pndm_goldens.py"
EXPECTED = {"python": "3.11.7", "torch": "2.13.0+cpu", "diffusers": "0.42.1", "numpy": "2.4.6"}
OUT = Path(__file__).resolve().parent.parent / "Tests/Fixtures/schedulers/pndm.json"
SEEDS = [7, 8]
SAMPLE_SHAPE = (1, 4, 4)
MODEL_FORMULA = ("out = float32(0.9*x*sqrt((t + 1)/1000) + 0.1*sin(3*x + t/100)), in float64 (numpy) from the "
                 "float32 sample x and the integer timestep t")

SD = dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
LINEAR = dict(beta_schedule="linear", beta_start=0.0001, beta_end=0.02)

# (name, N, scheduler config)
RUNS = [
    # Stable Diffusion 1.x / 2.1-base's PNDMScheduler config at 10, 25 (the pipeline's default) and 50 steps.
    ("plms_sd_leading10", 10, dict(SD, skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)),
    ("plms_sd_leading25", 25, dict(SD, skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)),
    ("plms_sd_leading50", 50, dict(SD, skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False)),
    ("plms_sd_leading25_v", 25, dict(SD, skip_prk_steps=True, steps_offset=1, set_alpha_to_one=False,
                                     prediction_type="v_prediction")),
    ("plms_linear_leading10_offset0_alpha1", 10, dict(LINEAR, skip_prk_steps=True, set_alpha_to_one=True)),
    ("plms_linear_trailing25_alpha1", 25, dict(LINEAR, skip_prk_steps=True, set_alpha_to_one=True,
                                                timestep_spacing="trailing")),
    ("plms_sd_trailing10_v", 10, dict(SD, skip_prk_steps=True, set_alpha_to_one=False, timestep_spacing="trailing",
                                      prediction_type="v_prediction")),
    ("plms_linear_leading1", 1, dict(LINEAR, skip_prk_steps=True, steps_offset=1)),
    ("plms_linear_leading2", 2, dict(LINEAR, skip_prk_steps=True, steps_offset=1)),
    # PNDMScheduler's defaults: the Runge-Kutta warm-up.
    ("prk_linear_leading10", 10, dict(LINEAR)),
    ("prk_linear_leading4_alpha1", 4, dict(LINEAR, set_alpha_to_one=True)),
    ("prk_sd_leading25_v", 25, dict(SD, steps_offset=1, prediction_type="v_prediction")),
    ("prk_linear_trailing10", 10, dict(LINEAR, timestep_spacing="trailing")),
]


def fake_model(x: torch.Tensor, t: int) -> torch.Tensor:
    x64 = x.numpy().astype(np.float64)
    out = 0.9 * x64 * np.sqrt((t + 1) / 1000.0) + 0.1 * np.sin(3.0 * x64 + t / 100.0)
    return torch.from_numpy(out.astype(np.float32))


def run(name: str, steps: int, config: dict) -> dict:
    scheduler = PNDMScheduler(**config)
    scheduler.set_timesteps(steps)
    x = torch.cat([torch.randn((1,) + SAMPLE_SHAPE, generator=torch.Generator().manual_seed(s), dtype=torch.float32)
                   for s in SEEDS])
    x_T = x.clone()
    evaluations = []
    for t in scheduler.timesteps:
        t = int(t)
        out = fake_model(x, t)
        prev = scheduler.step(out, t, x).prev_sample
        assert prev.dtype == torch.float32
        evaluations.append({"t": t, "model_output": mg.f32list(out), "prev_sample": mg.f32list(prev)})
        x = prev
    cfg = mg.scheduler_config(scheduler)
    return {"name": name, "steps": steps, "config": cfg,
            "prk_timesteps": [int(v) for v in scheduler.prk_timesteps],
            "timesteps": [int(v) for v in scheduler.timesteps], "nfe": len(evaluations),
            "batch": len(SEEDS), "sample_shape": list(SAMPLE_SHAPE), "seeds": SEEDS, "x_T": mg.f32list(x_T),
            "evaluations": evaluations, "final_sample": mg.f32list(x)}


def make() -> dict:
    torch.set_num_threads(1)
    m = mg.meta("diffusers PNDMScheduler runs (skip_prk_steps true and false) around a fixed float64 fake model")
    m["generated_by"] = "tools/make_pndm_goldens.py"
    m["command"] = COMMAND
    m["model"] = MODEL_FORMULA
    return {"meta": m, "runs": [run(*r) for r in RUNS]}


def versions() -> dict:
    return {"python": ".".join(map(str, sys.version_info[:3])), "torch": torch.__version__,
            "diffusers": mg.diffusers.__version__, "numpy": np.__version__}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the file on disk instead of writing")
    parser.add_argument("--allow-other-versions", action="store_true")
    args = parser.parse_args()
    if versions() != EXPECTED and not args.allow_other_versions:
        sys.exit(f"versions {versions()} differ from the pinned {EXPECTED}")
    text = mg.dumps(make())
    if args.check:
        same = OUT.read_text() == text
        print("identical" if same else "DIFFERENT")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
