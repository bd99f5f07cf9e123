"""Check a shipped diffusers folder against diffusers itself: it loads unchanged, and a 50-step DDIM
sample from the same noise agrees with skipstep's to <= 1e-3 relative L2.

diffusers side: DDPMPipeline.from_pretrained(MODEL) (the folder as committed), its scheduler config
turned into a DDIMScheduler (timestep_spacing "leading", steps_offset 0, set_alpha_to_one True:
diffusers' defaults), x_T from per-sample torch.Generator().manual_seed(seed + i) (randn_tensor with a
list of generators), eta = 0. skipstep side: the same per-sample torch streams (`--rng torch`) and
`--spacing leading`, run as a subprocess.

Versions: Python 3.11.7, torch 2.13.0+cpu, diffusers 0.42.1, numpy 2.4.6.
Command (from the repository root, after `swift build -c release`):
    python3 tools/check_default_model.py models/fashion-ddpm-28 --skipstep .build/release/skipstep
"""
import argparse
import os
import subprocess
import sys
import tempfile
import types

# PyPI's torchvision 0.28.0 (needed by the pytorch-fid tools) is a CUDA build whose meta registrations
# fail against torch 2.13.0+cpu and break `import diffusers`; skipping them changes no CPU numerics.
sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from diffusers import DDIMScheduler, DDPMPipeline  # noqa: E402
from diffusers.utils.torch_utils import randn_tensor  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("--skipstep", default=".build/release/skipstep")
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(2)

    pipe = DDPMPipeline.from_pretrained(args.model)
    unet = pipe.unet.eval()
    scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    scheduler.set_timesteps(args.steps)
    shape = (args.count, unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
    generators = [torch.Generator().manual_seed(args.seed + i) for i in range(args.count)]
    x = randn_tensor(shape, generator=generators, dtype=torch.float32)
    with torch.no_grad():
        for t in scheduler.timesteps:
            eps = unet(x, t).sample
            x = scheduler.step(eps, t, x, eta=0.0).prev_sample
    reference = x.numpy()

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "x.npy")
        cmd = [args.skipstep, "sample", "--model", args.model, "--sampler", "ddim", "--steps", str(args.steps),
               "--spacing", "leading", "--rng", "torch", "--seed", str(args.seed), "--count", str(args.count),
               "--out", out]
        subprocess.run(cmd, check=True)
        ours = np.load(out)
    rel = float(np.linalg.norm(ours.astype(np.float64) - reference) / np.linalg.norm(reference))
    print(f"{args.model}: {args.steps}-step DDIM, {args.count} samples, seeds {args.seed}..{args.seed + args.count - 1}: "
          f"relative L2 skipstep vs diffusers {rel:.3e} (max |diff| {np.abs(ours - reference).max():.3e})")
    if not rel <= 1e-3:
        sys.exit("FAIL: more than 1e-3")
    print("OK (<= 1e-3)")


if __name__ == "__main__":
    main()
