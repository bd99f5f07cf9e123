#!/usr/bin/env python3
"""Write Stable Diffusion 2.1's real UNet and VAE shapes with random weights, and diffusers' outputs,
for the env-gated Swift test `SDRealShapeTests` (not committed: ~2 GB).

    python tools/make_sd_real_shapes.py DIR          # writes DIR/unet_base, DIR/unet_768, DIR/vae
    SKIPSTEP_SD_REAL=1 SKIPSTEP_SD_REAL_DIR=DIR swift test -c release -Xswiftc -enable-testing --filter SDRealShapeTests

Configs are the published ones of stabilityai/stable-diffusion-2-1-base (unet: sample_size 64,
upcast_attention false) and stabilityai/stable-diffusion-2-1 (unet: sample_size 96, upcast_attention
true), the same weight shapes: attention_head_dim [5, 10, 20, 20] (heads), linear projection, cross
attention 1024; vae: block_out (128, 256, 512, 512), layers 2, latent 4. Random weights (norms and
biases perturbed by 0.1·randn, as tools/make_sd_fixtures.py does), rounded to float16 and stored as
float16 (the 768 folder's weights are a hard link to the base folder's). Goldens: UNet at latent 16×16,
batch 2, timesteps (999, 1), 77 random text states; VAE decode of 2×4×16×16 latents. Also records
PyTorch's own time per call (2 threads, float32, median of 3) at latent 16 and 32 for the ratio the
Swift test prints.

Pinned: torch 2.13.0+cpu, diffusers 0.42.1 (the same as tools/make_sd_fixtures.py).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import diffusers
from diffusers import AutoencoderKL, UNet2DConditionModel

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_sd_fixtures import Blob, perturb_and_round_, rel_l2  # noqa: E402

UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, act_fn="silu", attention_head_dim=[5, 10, 20, 20],
    block_out_channels=[320, 640, 1280, 1280], center_input_sample=False, cross_attention_dim=1024,
    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    downsample_padding=1, dual_cross_attention=False, flip_sin_to_cos=True, freq_shift=0, layers_per_block=2,
    mid_block_scale_factor=1, norm_eps=1e-5, norm_num_groups=32, num_class_embeds=None, only_cross_attention=False,
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    use_linear_projection=True, upcast_attention=False,
)
VAE = dict(
    in_channels=3, out_channels=3, act_fn="silu", block_out_channels=[128, 256, 512, 512],
    down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4, latent_channels=4,
    layers_per_block=2, norm_num_groups=32, sample_size=768,
)


def timed(call, repeats=3) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    if (torch.__version__, diffusers.__version__) != ("2.13.0+cpu", "0.42.1"):
        sys.exit(f"pinned torch 2.13.0+cpu, diffusers 0.42.1; found {torch.__version__}, {diffusers.__version__}")
    root = Path(sys.argv[1])
    root.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    generator = torch.Generator().manual_seed(3001)

    torch.manual_seed(3000)
    unet = UNet2DConditionModel(**UNET).eval()
    perturb_and_round_(unet, torch.Generator().manual_seed(3002))
    blob, cases, timings = Blob(), [], {}
    x = torch.randn((2, 4, 16, 16), generator=generator)
    text = torch.randn((2, 77, 1024), generator=generator)
    t = torch.tensor([999.0, 1.0])
    with torch.no_grad():
        y = unet(x, t, encoder_hidden_states=text).sample
        for side in (16, 32):
            latents = torch.randn((2, 4, side, side), generator=generator)
            timings[f"unet_latent{side}_batch2_s"] = timed(lambda: unet(latents, t, encoder_hidden_states=text))
    cases.append({"name": "unet_latent16", "batch": 2, "timesteps": [999.0, 1.0], "height": 16, "width": 16,
                  "sequence_length": 77, "input": blob.add(x), "context": blob.add(text), "output": blob.add(y)})
    for name, overrides in [("unet_base", {}), ("unet_768", {"sample_size": 96, "upcast_attention": True})]:
        directory = root / name
        if name == "unet_base":
            unet.half().save_pretrained(directory, safe_serialization=True)
            unet.float()
        else:
            directory.mkdir(parents=True, exist_ok=True)
            target = directory / "diffusion_pytorch_model.safetensors"
            if target.exists():
                target.unlink()
            os.link(root / "unet_base" / "diffusion_pytorch_model.safetensors", target)
            config = json.loads((root / "unet_base" / "config.json").read_text())
            config.update(overrides)
            (directory / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    # The 768 config's upcast_attention changes nothing in float32 (AttnProcessor2_0); check it on diffusers' side.
    unet768 = UNet2DConditionModel.from_pretrained(root / "unet_768", torch_dtype=torch.float32).eval()
    with torch.no_grad():
        y768 = unet768(x, t, encoder_hidden_states=text).sample
    assert rel_l2(y768, y) < 1e-6, rel_l2(y768, y)
    del unet, unet768

    torch.manual_seed(3100)
    vae = AutoencoderKL(**VAE).eval()
    perturb_and_round_(vae, torch.Generator().manual_seed(3102))
    z = torch.randn((2, 4, 16, 16), generator=generator)
    with torch.no_grad():
        image = vae.decode(z).sample
        timings["vae_latent16_batch2_s"] = timed(lambda: vae.decode(z), repeats=1)
    cases.append({"name": "vae_latent16", "batch": 2, "height": 16, "width": 16, "latents": blob.add(z),
                  "output": blob.add(image)})
    vae.half().save_pretrained(root / "vae", safe_serialization=True)

    (root / "goldens.bin").write_bytes(blob.bytes())
    (root / "goldens.json").write_text(json.dumps({
        "command": "python tools/make_sd_real_shapes.py DIR", "torch": torch.__version__,
        "diffusers": diffusers.__version__, "torch_threads": 2, "timings": timings, "cases": cases}, indent=1) + "\n")
    print(json.dumps(timings))


if __name__ == "__main__":
    main()
