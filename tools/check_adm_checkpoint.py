#!/usr/bin/env python3
"""Check that skipstep runs your own guided-diffusion (ADM) checkpoint as guided-diffusion does:

    python tools/check_adm_checkpoint.py MODEL.pt [--preset NAME] [FLAGS] [--skipstep PATH] [--keep DIR]

FLAGS and --preset are tools/convert_adm.py's (guided-diffusion's MODEL_FLAGS). The script
  1. converts MODEL.pt with convert_adm.py's own functions (the same safety checks) into a temporary
     folder (or --keep DIR);
  2. forward pass: one call of guided-diffusion's UNetModel (float32, fp16 flag ignored) at a fixed x
     (torch.randn from --seed), timestep --timestep and class --class, against `skipstep forward`
     on the same x.npy; pass at relative L2 <= 1e-4;
  3. 10-step loop: guided-diffusion's p_sample_loop on SpacedDiffusion(timestep_respacing="10")
     with the learned range (learn_sigma) and clip_denoised=True, as image_sample.py runs it, where
     x_T and every step's noise come from per-sample torch.Generator(seed + i) (x_T first, then one
     draw per step: the noise `skipstep sample --rng torch --seed S` draws) captured by wrapping
     th.randn_like, against `skipstep sample --sampler ddpm --steps 10 --rng torch`;
     pass at relative L2 <= 1e-3.
The inputs, the captured noise and both sides' outputs are written as .npy files in the work folder
(x.npy, forward_gd.npy, forward_skipstep.npy, x_T.npy, noise.npy (steps x N x C x H x W; the
last step's draw, which guided-diffusion masks out, is zeros), loop_gd.npy, loop_skipstep.npy).
Exit status 0 when both pass.

Cost: two forward passes plus 20 evaluations at the checkpoint's size (a 256x256 model: a few
minutes on 2 cores; memory: the model once in PyTorch and once in skipstep).

skipstep: --skipstep PATH, else .build/release/skipstep or .build/debug/skipstep of this checkout,
else `skipstep` on PATH.

Setup: as tools/convert_adm.py (torch 2.13.0+cpu, guided-diffusion-sdk 1.0.0 installed with
--no-deps, safetensors, numpy).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_adm  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FORWARD_TOLERANCE = 1e-4
LOOP_TOLERANCE = 1e-3
LOOP_STEPS = 10


def relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def find_skipstep(given: str | None) -> str:
    if given:
        return given
    for candidate in [ROOT / ".build" / "release" / "skipstep", ROOT / ".build" / "debug" / "skipstep"]:
        if candidate.exists():
            return str(candidate)
    found = shutil.which("skipstep")
    if not found:
        sys.exit("check_adm_checkpoint: no skipstep binary (build it with `swift build -c release` or pass --skipstep)")
    return found


def run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"check_adm_checkpoint: {' '.join(command)} failed ({result.returncode}):\n{result.stderr}")


def main() -> int:
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--skipstep")
    own.add_argument("--keep", type=Path, help="work folder to keep (default: a temporary one, removed)")
    own.add_argument("--seed", type=int, default=0)
    own.add_argument("--count", type=int, default=1, help="samples in the loop and the forward batch")
    own.add_argument("--timestep", type=float, default=500.0, help="timestep of the forward pass")
    own.add_argument("--class", dest="label", type=int, default=0, help="class of every sample (conditional models)")
    mine, rest = own.parse_known_args()
    if "-h" in rest or "--help" in rest:
        print(__doc__)
        return 0
    if mine.count < 1:
        sys.exit("check_adm_checkpoint: --count must be at least 1")
    skipstep = find_skipstep(mine.skipstep)

    if mine.keep:
        mine.keep.mkdir(parents=True, exist_ok=True)
        work = mine.keep
    else:
        work = Path(tempfile.mkdtemp(prefix="check_adm-"))
    try:
        return check(rest, mine, skipstep, work)
    finally:
        if not mine.keep:
            shutil.rmtree(work, ignore_errors=True)


def check(rest: list[str], mine, skipstep: str, work: Path) -> int:
    from guided_diffusion.script_util import create_gaussian_diffusion
    from safetensors.torch import load_file

    folder = work / "model"
    args, flags = convert_adm.parse(rest + ["--out", str(folder)])
    if folder.exists():
        shutil.rmtree(folder)
    try:
        convert_adm.convert(args, flags)
    except convert_adm.Refusal as refusal:
        print(f"check_adm_checkpoint: refused: {refusal}", file=sys.stderr)
        return 1

    model = convert_adm.create_unet(dict(flags, use_fp16=False))
    model.load_state_dict(load_file(str(folder / "model.safetensors")))
    model.eval()
    size, n = flags["image_size"], mine.count
    shape = (3, size, size)
    labels = torch.full((n,), mine.label, dtype=torch.long) if flags["class_cond"] else None
    class_flags = ["--class", str(mine.label)] if flags["class_cond"] else []

    # 1. one forward pass
    g = torch.Generator().manual_seed(mine.seed)
    x = torch.randn(n, *shape, generator=g)
    np.save(work / "x.npy", x.numpy())
    with torch.no_grad():
        expected = model(x, torch.full((n,), mine.timestep, dtype=torch.float64), y=labels).numpy()
    np.save(work / "forward_gd.npy", expected)
    run([skipstep, "forward", "--model", str(folder), "--input", str(work / "x.npy"), "--timestep", str(mine.timestep),
         "--out", str(work / "forward_skipstep.npy"), *class_flags])
    forward_error = relative_l2(np.load(work / "forward_skipstep.npy"), expected)

    # 2. a respaced 10-step p_sample loop with the noise of --rng torch --seed S
    diffusion = create_gaussian_diffusion(steps=flags["diffusion_steps"], learn_sigma=flags["learn_sigma"],
                                          noise_schedule=flags["noise_schedule"], use_kl=flags["use_kl"],
                                          predict_xstart=flags["predict_xstart"],
                                          rescale_timesteps=flags["rescale_timesteps"],
                                          rescale_learned_sigmas=flags["rescale_learned_sigmas"],
                                          timestep_respacing=str(LOOP_STEPS))
    generators = [torch.Generator().manual_seed(mine.seed + i) for i in range(n)]
    x_t = torch.stack([torch.randn(*shape, generator=gen) for gen in generators])
    draws = []

    def captured_randn_like(t, **kwargs):
        # p_sample draws at every step; the last draw is masked out (t == 0), and skipstep draws none there
        if len(draws) == LOOP_STEPS - 1:
            z = torch.zeros_like(t)
        else:
            z = torch.stack([torch.randn(*shape, generator=gen) for gen in generators]).to(t.dtype)
        draws.append(z)
        return z

    original = torch.randn_like
    torch.randn_like = captured_randn_like
    try:
        with torch.no_grad():
            final = diffusion.p_sample_loop(model, (n, *shape), noise=x_t, clip_denoised=True,
                                            model_kwargs={"y": labels} if labels is not None else {})
    finally:
        torch.randn_like = original
    if len(draws) != LOOP_STEPS:
        sys.exit(f"check_adm_checkpoint: guided-diffusion drew noise {len(draws)} times in {LOOP_STEPS} steps")
    np.save(work / "x_T.npy", x_t.numpy())
    np.save(work / "noise.npy", torch.stack(draws).numpy())
    np.save(work / "loop_gd.npy", final.numpy())
    run([skipstep, "sample", "--model", str(folder), "--sampler", "ddpm", "--steps", str(LOOP_STEPS), "--rng", "torch",
         "--seed", str(mine.seed), "--count", str(n), "--batch", str(n), "--out", str(work / "loop_skipstep.npy"),
         *class_flags])
    loop_error = relative_l2(np.load(work / "loop_skipstep.npy"), final.numpy())

    ok = True
    for what, error, tolerance in [("forward pass", forward_error, FORWARD_TOLERANCE),
                                   (f"{LOOP_STEPS}-step p_sample loop", loop_error, LOOP_TOLERANCE)]:
        passed = error <= tolerance
        ok &= passed
        print(f"{what}: relative L2 {error:.3e} (tolerance {tolerance:.0e}) {'PASS' if passed else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
