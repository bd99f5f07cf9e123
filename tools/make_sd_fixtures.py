#!/usr/bin/env python3
"""Make the Stable Diffusion model parity fixtures in Tests/Fixtures/sd/: tiny random-weight diffusers
`UNet2DConditionModel`s and a tiny `AutoencoderKL`, with diffusers' own outputs.

Commands (run from the repository root; no network, no GPU):

    python tools/make_sd_fixtures.py             # (re)write Tests/Fixtures/sd/
    python tools/make_sd_fixtures.py --check     # regenerate into a temp dir, compare byte for byte

Versions that produced the checked-in files (other versions are refused unless
--allow-other-versions is given, because goldens must be reproducible bit for bit):

    Python 3.11.7, torch 2.13.0+cpu, diffusers 0.42.1, safetensors 0.8.0, numpy 2.4.6

What is written (schemas in Tests/Fixtures/sd/README.md):

    unet_<name>/config.json                     save_pretrained (diffusers' own config dump)
    unet_<name>/diffusion_pytorch_model[.fp16].safetensors   the weights, stored as float16
    unet_<name>/goldens.json + goldens.bin      per case: latents (batch 2), per-item timesteps,
                                                encoder hidden states, the UNet's output (float32)
    vae/                                        AutoencoderKL folder, float16: decoder, post_quant_conv,
                                                quant_conv and three of the encoder's layers (cut to save space),
                                                with goldens.json + goldens.bin of `decode`
    vae_legacy/                                 the same decoder (plus quant_conv) under the pre-0.15
                                                attention names query/key/value/proj_attn, the
                                                encoder left out, and a config.json without
                                                scaling_factor (older configs omit it); same goldens

Models are randomly initialised (torch.manual_seed before construction), then every LayerNorm /
GroupNorm weight and bias and every bias gets + 0.1 * randn (so no norm is the identity and no bias
zero), then every parameter is rounded to float16 and back: the stored float16 file then holds
exactly the weights the float32 goldens were computed with. Sizes are smaller than diffusers'
tests/pipelines/stable_diffusion_2 UNet ((32, 64), 1.4 M parameters) so all fixtures stay near 3 MB;
the VAE is that test's (32, 64) decoder. Outputs use eval(), no_grad(), one thread, float32; torch's
own float32 error against a float64 run is recorded per case (`torch_f32_vs_f64_rel_l2`).
"""

from __future__ import annotations

import argparse
import filecmp
import io
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import diffusers
import safetensors
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import load_file, save_file

EXPECTED_VERSIONS = {
    "python": "3.11.7",
    "torch": "2.13.0+cpu",
    "diffusers": "0.42.1",
    "safetensors": "0.8.0",
    "numpy": "2.4.6",
}
COMMAND = "python tools/make_sd_fixtures.py"
REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "Tests" / "Fixtures" / "sd"
FORMAT = "skipstep-sd-goldens/1"
PERTURB_STD = 0.1

UNETS: list[dict] = [
    {
        "name": "linear_list_heads",
        "seed": 2001,
        "spatial": (16, 16),
        "sequence": 7,
        "config": dict(
            sample_size=16, in_channels=4, out_channels=4, block_out_channels=(16, 32), layers_per_block=2,
            norm_num_groups=8, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
            attention_head_dim=(2, 4), use_linear_projection=True,
        ),
        "covers": "diffusers' SD2 test layout at half width: attention_head_dim list (2, 4) counted as heads, "
                  "linear proj_in/proj_out, layers_per_block 2 (3 resnets per up block), DownBlock2D/UpBlock2D",
    },
    {
        "name": "conv_int_heads_odd",
        "seed": 2002,
        "spatial": (9, 7),
        "sequence": 5,
        "config": dict(
            sample_size=(9, 7), in_channels=4, out_channels=4, block_out_channels=(8, 16, 16), layers_per_block=1,
            norm_num_groups=4, down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=24,
            attention_head_dim=2, use_linear_projection=False,
        ),
        "covers": "SD 1.x/2.x block order, 1x1-conv projections, int attention_head_dim (2 heads everywhere), "
                  "latent 9x7 with 3 levels (upsample_size forwarded: 3->5->9 and 2->4->7), cross_attention_dim 24",
    },
    {
        "name": "two_layers_upcast",
        "seed": 2003,
        "spatial": (8, 12),
        "sequence": 6,
        "config": dict(
            sample_size=(8, 12), in_channels=4, out_channels=4, block_out_channels=(16, 32), layers_per_block=1,
            norm_num_groups=8, down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=16,
            attention_head_dim=(4, 8), transformer_layers_per_block=2, upcast_attention=True,
            use_linear_projection=True, flip_sin_to_cos=False, freq_shift=1, norm_eps=1e-6,
        ),
        "covers": "transformer_layers_per_block 2 (int), upcast_attention true (SD 2.1 768), 4 and 8 heads of 4, "
                  "flip_sin_to_cos false, freq_shift 1, norm_eps 1e-6, non-square 8x12",
    },
    {
        "name": "layer_lists_fp16_variant",
        "seed": 2004,
        "spatial": (12, 8),
        "sequence": 4,
        "variant": "fp16",
        "config": dict(
            sample_size=(12, 8), in_channels=4, out_channels=4, block_out_channels=(8, 16, 16),
            layers_per_block=(1, 2, 1), norm_num_groups=4,
            down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32,
            attention_head_dim=(2, 4, 4), transformer_layers_per_block=(1, 2, 1), use_linear_projection=False,
        ),
        "covers": "layers_per_block and transformer_layers_per_block as lists (reversed for up blocks, mid block "
                  "takes the last), conv projections, weights saved as variant fp16 "
                  "(diffusion_pytorch_model.fp16.safetensors)",
    },
]

VAE = dict(
    block_out_channels=(32, 64), in_channels=3, out_channels=3,
    down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
    up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), latent_channels=4, norm_num_groups=32, sample_size=32,
)
VAE_SEED = 2101
# timesteps of the three UNet cases (batch 2, one per item; fractional values are allowed by the Denoiser)
UNET_TIMESTEPS = [[999.0, 1.0], [500.0, 261.0], [37.5, 0.0]]


def _check_versions(allow_other: bool) -> dict:
    actual = {
        "python": ".".join(str(v) for v in sys.version_info[:3]),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
    }
    if actual != EXPECTED_VERSIONS:
        message = f"versions differ from the pinned ones: expected {EXPECTED_VERSIONS}, found {actual}"
        if not allow_other:
            sys.exit(message + " (pass --allow-other-versions to go on anyway)")
        print("warning: " + message, file=sys.stderr)
    return actual


class Blob:
    """Accumulates little-endian float32 arrays; returns JSON entries with byte offsets."""

    def __init__(self) -> None:
        self.buffer = io.BytesIO()

    def add(self, tensor: torch.Tensor) -> dict:
        array = tensor.detach().to(torch.float32).contiguous().numpy().astype("<f4", copy=False)
        offset = self.buffer.tell()
        self.buffer.write(array.tobytes(order="C"))
        return {"offset": offset, "count": int(array.size), "shape": list(array.shape)}

    def bytes(self) -> bytes:
        return self.buffer.getvalue()


def _write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1, sort_keys=False) + "\n")


def perturb_and_round_(model: torch.nn.Module, generator: torch.Generator) -> None:
    norm_params = set()
    for module_name, module in model.named_modules():
        if isinstance(module, (torch.nn.GroupNorm, torch.nn.LayerNorm)):
            for p_name, _ in module.named_parameters(recurse=False):
                norm_params.add(f"{module_name}.{p_name}" if module_name else p_name)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in norm_params or name.endswith(".bias"):
                param.add_(PERTURB_STD * torch.randn(param.shape, generator=generator, dtype=param.dtype))
            param.copy_(param.half().float())


def rel_l2(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def make_unet(spec: dict, root: Path, versions: dict) -> None:
    torch.manual_seed(spec["seed"])
    model = UNet2DConditionModel(**spec["config"]).eval()
    perturb_and_round_(model, torch.Generator().manual_seed(spec["seed"] + 50_000))
    model64 = UNet2DConditionModel(**spec["config"]).eval().double()
    model64.load_state_dict(model.state_dict())
    generator = torch.Generator().manual_seed(spec["seed"] + 60_000)
    height, width = spec["spatial"]
    cfg = model.config
    blob, cases = Blob(), []
    for index, timesteps in enumerate(UNET_TIMESTEPS):
        x = torch.randn((2, cfg.in_channels, height, width), generator=generator)
        context = torch.randn((2, spec["sequence"], cfg.cross_attention_dim), generator=generator)
        t = torch.tensor(timesteps, dtype=torch.float32)
        with torch.no_grad():
            y = model(x, t, encoder_hidden_states=context).sample
            y64 = model64(x.double(), t.double(), encoder_hidden_states=context.double()).sample
        cases.append({
            "name": f"case{index}", "batch": 2, "timesteps": timesteps, "height": height, "width": width,
            "sequence_length": spec["sequence"], "torch_f32_vs_f64_rel_l2": rel_l2(y, y64),
            "input": blob.add(x), "context": blob.add(context), "output": blob.add(y),
        })
    directory = root / f"unet_{spec['name']}"
    model.half().save_pretrained(directory, safe_serialization=True, variant=spec.get("variant"))
    (directory / "goldens.bin").write_bytes(blob.bytes())
    _write_json(directory / "goldens.json", {
        "format": FORMAT, "command": COMMAND, "versions": versions, "covers": spec["covers"],
        "parameters": sum(p.numel() for p in model.parameters()), "cases": cases,
    })


ENCODER_KEPT = ("encoder.conv_in.", "encoder.conv_norm_out.", "encoder.conv_out.")
LEGACY = {"to_q": "query", "to_k": "key", "to_v": "value", "to_out.0": "proj_attn"}


def make_vae(root: Path, versions: dict) -> None:
    torch.manual_seed(VAE_SEED)
    model = AutoencoderKL(**VAE).eval()
    perturb_and_round_(model, torch.Generator().manual_seed(VAE_SEED + 50_000))
    model64 = AutoencoderKL(**VAE).eval().double()
    model64.load_state_dict(model.state_dict())
    generator = torch.Generator().manual_seed(VAE_SEED + 60_000)
    blob, cases = Blob(), []
    for index, (height, width) in enumerate([(8, 8), (5, 6)]):
        z = torch.randn((2, VAE["latent_channels"], height, width), generator=generator)
        with torch.no_grad():
            image = model.decode(z).sample
            image64 = model64.decode(z.double()).sample
        cases.append({"name": f"case{index}", "batch": 2, "height": height, "width": width,
                      "torch_f32_vs_f64_rel_l2": rel_l2(image, image64),
                      "latents": blob.add(z), "output": blob.add(image)})
    directory = root / "vae"
    model.half().save_pretrained(directory, safe_serialization=True)
    # To keep the fixtures small the encoder is cut down to a few of its keys (the decoder never
    # reads it; what matters is that a vae/ folder's encoder.* and quant_conv.* keys are ignored).
    weights = directory / "diffusion_pytorch_model.safetensors"
    state = load_file(str(weights))
    kept = {k: v for k, v in state.items() if not k.startswith("encoder.") or k.startswith(ENCODER_KEPT)}
    save_file(kept, str(weights), metadata={"format": "pt"})
    (directory / "goldens.bin").write_bytes(blob.bytes())
    _write_json(directory / "goldens.json", {
        "format": FORMAT, "command": COMMAND, "versions": versions,
        "parameters": sum(p.numel() for p in model.parameters()),
        "decoder_parameters": sum(p.numel() for n, p in model.named_parameters()
                                  if n.startswith(("decoder.", "post_quant_conv."))),
        "cases": cases,
    })

    # The legacy copy: decoder, post_quant_conv and quant_conv, mid-block attention under the old names.
    legacy = {}
    for key, value in state.items():
        if key.startswith("encoder."):
            continue
        for new, old in LEGACY.items():
            key = key.replace(f".attentions.0.{new}.", f".attentions.0.{old}.")
        legacy[key] = value
    # diffusers itself maps these names back on load (modeling_utils.py _fix_state_dict_keys_on_load).
    check = dict(legacy)
    model._fix_state_dict_keys_on_load(check)
    expected = {k: v for k, v in state.items() if not k.startswith("encoder.")}
    assert check.keys() == expected.keys(), sorted(set(check) ^ set(expected))
    assert all(torch.equal(check[k], expected[k]) for k in expected)
    out = root / "vae_legacy"
    out.mkdir(parents=True, exist_ok=True)
    save_file(legacy, str(out / "diffusion_pytorch_model.safetensors"), metadata={"format": "pt"})
    config = json.loads((directory / "config.json").read_text())
    config.pop("scaling_factor")
    _write_json(out / "config.json", config)


def write_all(root: Path, versions: dict) -> None:
    torch.set_num_threads(1)
    root.mkdir(parents=True, exist_ok=True)
    for name in [f"unet_{spec['name']}" for spec in UNETS] + ["vae", "vae_legacy"]:
        if (root / name).exists():
            shutil.rmtree(root / name)
    for spec in UNETS:
        make_unet(spec, root, versions)
    make_vae(root, versions)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="regenerate into a temporary directory and compare")
    parser.add_argument("--allow-other-versions", action="store_true")
    args = parser.parse_args()
    versions = _check_versions(args.allow_other_versions)
    if not args.check:
        write_all(OUT_DIR, versions)
        total = sum(p.stat().st_size for p in OUT_DIR.rglob("*") if p.is_file())
        print(f"wrote {OUT_DIR} ({total / 1e6:.2f} MB)")
        return
    with tempfile.TemporaryDirectory() as temp:
        fresh = Path(temp) / "sd"
        write_all(fresh, versions)
        different = []
        for path in sorted(fresh.rglob("*")):
            if path.is_file() and path.name != "README.md":
                committed = OUT_DIR / path.relative_to(fresh)
                if not committed.exists() or not filecmp.cmp(path, committed, shallow=False):
                    different.append(str(path.relative_to(fresh)))
        if different:
            sys.exit("differs from the committed fixtures: " + ", ".join(different))
        print("fixtures reproduce byte for byte")


if __name__ == "__main__":
    main()
