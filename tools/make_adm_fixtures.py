#!/usr/bin/env python3
"""Make the guided-diffusion (ADM) parity fixtures in Tests/Fixtures/adm/.

    python tools/make_adm_fixtures.py            # (re)write Tests/Fixtures/adm/
    python tools/make_adm_fixtures.py --check    # regenerate into a temp dir, compare byte for byte

Reference: openai/guided-diffusion @22e0df8 (MIT) as published on PyPI, installed with
`pip install --no-deps guided-diffusion-sdk==1.0.0` (its unet.py differs from upstream only in
AttentionBlock honouring use_checkpoint; outputs are unchanged). Versions that produced the
checked-in files (the script refuses others unless --allow-other-versions):

    Python 3.11.7, torch 2.13.0+cpu, guided-diffusion-sdk 1.0.0, numpy 2.4.6

Per config (A-D of issue 19, UNetModel built directly with num_classes = 10, small sizes):

    <name>/adm_config.json       the model's flags in skipstep's ADMConfig form (channel_mult resolved)
    <name>/keys.json             state_dict keys and shapes in order (guided-diffusion's own names)
    <name>/goldens.json + .bin   forward outputs (below)

Weights are not stored: every parameter is re-initialised (zero_module zeroes each ResBlock's last
conv, every proj_out and `out`, so a fresh model outputs exactly 0) from an integer hash that the
Swift tests recompute (Tests/TestSupport/HashedWeights.swift), so the fixtures stay small:
u = 24-bit hash of (key index, element index) scaled to [-1, 1) (`hashed_uniform`), then weights
u*sqrt(3/fan_in), biases 0.1*u, GroupNorm weights 1 + 0.1*u, label_emb u*sqrt(3), in float32.
    <name>/goldens.json + .bin   forward outputs, little-endian float32 at byte offsets: batch 3 at
                                 t = (0, 500, 123.5), batch 1 at t = 999 and t = 1 (k-diffusion passes
                                 fractional t), class labels per sample

    A: legacy qkv order, 4 heads, resblock_updown, scale-shift, learn_sigma, 32 px, mult 1,2,2
    B: new qkv order, 16 channels per head, 2 res blocks, conv resampling, 32 px, mult 1,2
    C: conv resampling, no scale-shift, no sigma, mult 0.5,1,2, num_head_channels -1, num_heads 2,
       num_heads_upsample 4
    D: 64 px, create_model's default channel_mult for 64 (1,2,3,4)

    steps.json + steps.bin       respaced p_sample / ddim_sample single steps and 10-step loops on a
                                 stand-in network (`make_steps`)
    respace.json                 space_timesteps(T, s) for T = 1000, 4000 and several strings

Determinism: torch runs single-threaded and every draw comes from a seeded torch.Generator.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

VERSIONS = {"torch": "2.13.0+cpu", "guided_diffusion_sdk": "1.0.0", "numpy": "2.4.6"}
OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "adm"

# name: (ADMConfig json, UNetModel kwargs)
CONFIGS = {
    "A": dict(image_size=32, num_channels=32, num_res_blocks=1, channel_mult=[1, 2, 2], attention_resolutions="16,8",
              num_heads=4, num_head_channels=-1, num_heads_upsample=-1, learn_sigma=True, class_cond=True,
              num_classes=10, use_scale_shift_norm=True, resblock_updown=True, use_new_attention_order=False),
    "B": dict(image_size=32, num_channels=32, num_res_blocks=2, channel_mult=[1, 2], attention_resolutions="16",
              num_heads=1, num_head_channels=16, num_heads_upsample=-1, learn_sigma=True, class_cond=True,
              num_classes=10, use_scale_shift_norm=True, resblock_updown=False, use_new_attention_order=True),
    "C": dict(image_size=32, num_channels=64, num_res_blocks=1, channel_mult=[0.5, 1, 2], attention_resolutions="8",
              num_heads=2, num_head_channels=-1, num_heads_upsample=4, learn_sigma=False, class_cond=True,
              num_classes=10, use_scale_shift_norm=False, resblock_updown=False, use_new_attention_order=False),
    "D": dict(image_size=64, num_channels=32, num_res_blocks=1, channel_mult=[], attention_resolutions="8",
              num_heads=1, num_head_channels=32, num_heads_upsample=-1, learn_sigma=True, class_cond=True,
              num_classes=10, use_scale_shift_norm=True, resblock_updown=True, use_new_attention_order=False),
}
DEFAULT_MULT = {64: (1, 2, 3, 4), 128: (1, 1, 2, 3, 4), 256: (1, 1, 2, 2, 4, 4), 512: (0.5, 1, 1, 2, 2, 4, 4)}


def check_versions(allow_other: bool) -> None:
    from importlib.metadata import version

    found = {"torch": torch.__version__, "guided_diffusion_sdk": version("guided-diffusion-sdk"),
             "numpy": np.__version__}
    if found != VERSIONS and not allow_other:
        sys.exit(f"versions {found} differ from {VERSIONS}; pass --allow-other-versions to proceed anyway")


def build(flags: dict):
    """guided-diffusion's UNetModel as create_model builds it (script_util.py), but with
    num_classes = flags['num_classes'] and channel_mult given as numbers (create_model parses ints only)."""
    from guided_diffusion.unet import UNetModel

    size = flags["image_size"]
    mult = tuple(flags["channel_mult"]) or DEFAULT_MULT[size]
    return UNetModel(
        image_size=size, in_channels=3, model_channels=flags["num_channels"],
        out_channels=6 if flags["learn_sigma"] else 3, num_res_blocks=flags["num_res_blocks"],
        attention_resolutions=tuple(size // int(r) for r in flags["attention_resolutions"].split(",")),
        dropout=0.0, channel_mult=mult, num_classes=flags["num_classes"] if flags["class_cond"] else None,
        use_checkpoint=False, use_fp16=False, num_heads=flags["num_heads"],
        num_head_channels=flags["num_head_channels"], num_heads_upsample=flags["num_heads_upsample"],
        use_scale_shift_norm=flags["use_scale_shift_norm"], resblock_updown=flags["resblock_updown"],
        use_new_attention_order=flags["use_new_attention_order"]), mult


M32 = 0xFFFFFFFF


def hashed_uniform(key_index: int, count: int) -> np.ndarray:
    """Values in [-1, 1) with 24 bits, exact in float32: a murmur-style mix of
    (element index, key index) in 32-bit arithmetic (Tests/TestSupport/HashedWeights.swift)."""
    i = np.arange(count, dtype=np.uint64)
    h = (i * 0x9E3779B1 + key_index * 0x85EBCA77 + 0x165667B1) & M32
    h ^= h >> 15
    h = (h * 0x2C1B3C6D) & M32
    h ^= h >> 12
    h = (h * 0x297A2D39) & M32
    h ^= h >> 15
    return ((h >> 8).astype(np.float64) - 8388608.0) / 8388608.0


def hashed_value(key_index: int, name: str, shape: tuple) -> np.ndarray:
    count = int(np.prod(shape))
    u = hashed_uniform(key_index, count).astype(np.float32)
    if name.endswith(".bias"):
        v = np.float32(0.1) * u
    elif len(shape) == 1:  # GroupNorm weights
        v = np.float32(1) + np.float32(0.1) * u
    elif name == "label_emb.weight":
        v = u * np.float32(3 ** 0.5)
    else:
        fan_in = count // shape[0]
        v = u * np.float32((3 / fan_in) ** 0.5)
    return v.reshape(shape)


@torch.no_grad()
def reinitialise(model: torch.nn.Module) -> list:
    keys = []
    for index, (name, p) in enumerate(model.state_dict().items()):
        p.copy_(torch.from_numpy(hashed_value(index, name, tuple(p.shape))))
        keys.append([name, list(p.shape)])
    return keys


def write_case_data(cases, path_json: Path, path_bin: Path, extra: dict | None = None) -> None:
    blob = bytearray()
    entries = []

    def add(array: np.ndarray) -> dict:
        array = np.ascontiguousarray(array, dtype="<f4")
        entry = {"offset": len(blob), "count": int(array.size), "shape": list(array.shape)}
        blob.extend(array.tobytes())
        return entry

    for case in cases:
        entry = {k: v for k, v in case.items() if not isinstance(v, np.ndarray)}
        for k, v in case.items():
            if isinstance(v, np.ndarray):
                entry[k] = add(v)
        entries.append(entry)
    document = {"cases": entries, **(extra or {})}
    path_json.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    path_bin.write_bytes(bytes(blob))


def make_forward(name: str, flags: dict, out: Path, seed: int) -> None:
    model, mult = build(flags)
    model.eval()
    keys = reinitialise(model)
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    config = dict(flags)
    config["channel_mult"] = [float(m) for m in mult]
    (folder / "adm_config.json").write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
    (folder / "keys.json").write_text(json.dumps(keys) + "\n")

    g = torch.Generator().manual_seed(seed + 1)
    size = flags["image_size"]
    x = torch.randn(3, 3, size, size, generator=g)
    labels = torch.randint(0, flags["num_classes"], (3,), generator=g)
    cases = []
    with torch.no_grad():
        for case_name, idx, ts in [("batch3", [0, 1, 2], [0.0, 500.0, 123.5]), ("t999", [0], [999.0]),
                                   ("t1", [1], [1.0])]:
            xb, yb = x[idx], labels[idx]
            t = torch.tensor(ts, dtype=torch.float64)
            y = model(xb, t, y=yb if flags["class_cond"] else None)
            cases.append({"name": case_name, "batch": len(idx), "timesteps": ts, "labels": yb.tolist(),
                          "input": xb.numpy(), "output": y.numpy()})
    params = sum(p.numel() for p in model.parameters())
    write_case_data(cases, folder / "goldens.json", folder / "goldens.bin", {"parameter_count": params})


def fake_model_output(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The stand-in network of the step goldens (Tests/DiffusionTests/ADMStepTests.swift computes the
    same in float32): eps = 0.5*x + 0.1*y, v = tanh(x) (learned range, not clamped)."""
    eps = 0.5 * x + 0.1 * y.to(x.dtype)[:, None, None, None]
    return torch.cat([eps, torch.tanh(x)], dim=1)


def make_steps(out: Path) -> None:
    """p_sample and ddim_sample of a respaced SpacedDiffusion (create_gaussian_diffusion with
    learn_sigma, timestep_respacing "10") on the stand-in network with class labels, batch 2 of
    3x8x8: every single step (clip on/off; ddim eta 0 and 1) from a fixed x with captured noise, and
    10-step p_sample_loop / ddim_sample_loop runs whose x_T and noise come from per-sample
    torch.Generator(seed + i) (x_T first, then one draw per noise-adding step), as skipstep's
    --rng torch draws them; guided-diffusion's extra draw on the last step is masked out, so the
    captured randn_like hands it zeros.

    The single steps run in float64: `_extract_into_tensor` is replaced by the same lookup without
    its `.float()`, and x, the noise and the network output (computed in float32, as skipstep's)
    are widened to float64. In float32 guided-diffusion loses the step's precision where its
    coefficients cancel (cosine, t = 999 -> 888, ddim eta = 1: 1 - abar_prev - sigma^2 ~ 8e-8 is
    computed from float32 values, a 2.5e-4 relative error in the sample), which skipstep's Float64
    coefficients do not; the loops keep guided-diffusion's float32 arithmetic."""
    from guided_diffusion.script_util import create_gaussian_diffusion

    shape, labels, seeds = (3, 8, 8), torch.tensor([3, 7]), [0, 1]
    cases = []

    class Model(torch.nn.Module):  # the loops read the device from a parameter
        def __init__(self):
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x, t, y=None):
            return fake_model_output(x.float(), y).to(x.dtype)
    model = Model()

    import guided_diffusion.gaussian_diffusion as gd
    extract_float32 = gd._extract_into_tensor

    def extract_float64(arr, timesteps, broadcast_shape):
        res = torch.from_numpy(arr)[timesteps]
        while len(res.shape) < len(broadcast_shape):
            res = res[..., None]
        return res.expand(broadcast_shape)

    original = torch.randn_like
    try:
        for schedule in ["linear", "cosine"]:
            diffusion = create_gaussian_diffusion(steps=1000, learn_sigma=True, noise_schedule=schedule,
                                                  timestep_respacing="10")
            g = torch.Generator().manual_seed(7)
            x = torch.randn(2, *shape, generator=g)
            z = torch.randn(2, *shape, generator=g)
            torch.randn_like = lambda t, **kw: z.double()
            gd._extract_into_tensor = extract_float64
            x64 = x.double()
            for k in range(10):
                t = torch.full((2,), k, dtype=torch.long)
                for clip in [True, False]:
                    p = diffusion.p_sample(model, x64, t, clip_denoised=clip, model_kwargs={"y": labels})
                    cases.append({"name": f"{schedule} p_sample k={k} clip={clip}", "schedule": schedule,
                                  "kind": "ddpm", "index": k, "clip": clip, "eta": 0.0, "input": x.numpy(),
                                  "noise": z.numpy(), "output": p["sample"].numpy(),
                                  "pred_xstart": p["pred_xstart"].numpy()})
                    for eta in [0.0, 1.0]:
                        d = diffusion.ddim_sample(model, x64, t, clip_denoised=clip, model_kwargs={"y": labels}, eta=eta)
                        cases.append({"name": f"{schedule} ddim_sample eta={eta} k={k} clip={clip}",
                                      "schedule": schedule, "kind": "ddim", "index": k, "clip": clip, "eta": eta,
                                      "input": x.numpy(), "noise": z.numpy(), "output": d["sample"].numpy(),
                                      "pred_xstart": d["pred_xstart"].numpy()})
            gd._extract_into_tensor = extract_float32
            for kind, eta in [("ddpm", 0.0), ("ddim", 1.0)]:
                generators = [torch.Generator().manual_seed(s) for s in seeds]
                x_t = torch.stack([torch.randn(*shape, generator=gen) for gen in generators])
                draws = iter(range(10))

                def captured(t, **kw):
                    step = next(draws)
                    if step == 9:
                        return torch.zeros_like(t)
                    return torch.stack([torch.randn(*shape, generator=gen) for gen in generators])
                torch.randn_like = captured
                if kind == "ddpm":
                    final = diffusion.p_sample_loop(model, (2, *shape), noise=x_t, clip_denoised=True,
                                                    model_kwargs={"y": labels})
                else:
                    final = diffusion.ddim_sample_loop(model, (2, *shape), noise=x_t, clip_denoised=True,
                                                       model_kwargs={"y": labels}, eta=eta)
                cases.append({"name": f"{schedule} {kind} loop", "schedule": schedule, "kind": kind + "-loop",
                              "index": -1, "clip": True, "eta": eta, "input": x_t.numpy(), "output": final.numpy()})
    finally:
        torch.randn_like = original
        gd._extract_into_tensor = extract_float32
    write_case_data(cases, out / "steps.json", out / "steps.bin", {"labels": labels.tolist(), "seeds": seeds})

    from guided_diffusion.respace import space_timesteps
    tables = {}
    for steps in [1000, 4000]:
        for text in ["25", "ddim25", "10,15,20", "250", "ddim50", "100", "ddim250", "7", "1,2,3"]:
            tables[f"{steps}:{text}"] = sorted(space_timesteps(steps, text))
    (out / "respace.json").write_text(json.dumps(tables, indent=0, sort_keys=True) + "\n")


def make_all(out: Path) -> None:
    torch.set_num_threads(1)
    for i, (name, flags) in enumerate(CONFIGS.items()):
        make_forward(name, flags, out, seed=1000 + i)
    make_steps(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--allow-other-versions", action="store_true")
    args = parser.parse_args()
    check_versions(args.allow_other_versions)
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            make_all(Path(tmp))
            diff = filecmp.dircmp(tmp, OUT)
            bad = []

            def walk(d, prefix=""):
                bad.extend(prefix + f for f in d.diff_files + d.left_only + d.right_only)
                for sub, sd in d.subdirs.items():
                    walk(sd, prefix + sub + "/")
            walk(diff)
            sys.exit(f"differs: {bad}" if bad else 0)
    make_all(OUT)


if __name__ == "__main__":
    main()
