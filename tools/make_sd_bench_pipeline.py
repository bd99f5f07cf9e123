#!/usr/bin/env python3
"""Assemble a full-size Stable Diffusion 2.1-base pipeline folder with random weights, for
`skipstep bench --component text|unet|vae` and `skipstep txt2img --dry-run` (not committed: ~2.5 GB).

    python tools/make_sd_real_shapes.py DIR            # first: DIR/unet_base, DIR/vae (random, float16)
    python tools/make_sd_bench_pipeline.py DIR         # then: DIR/pipeline (links to those, plus a text encoder)
    skipstep bench --component unet --model DIR/pipeline --latent-size 32 --runs 5

DIR/pipeline holds model_index.json (StableDiffusionPipeline), scheduler/ (2.1-base's published
PNDMScheduler config: scaled_linear 0.00085-0.012, steps_offset 1, skip_prk_steps true,
set_alpha_to_one false), tokenizer/ (the SD 2 vocabulary of Tests/Fixtures/clip), unet/ and vae/
(symbolic links to DIR/unet_base and DIR/vae), and text_encoder/: a CLIPTextModel with 2.1's shapes
(hidden 1024, 23 layers, 16 heads, MLP 4096, gelu, 77 positions, 49 408 ids; 340 M parameters),
random weights (torch.manual_seed(3200), transformers' own initialisation), saved in float16.

Also prints PyTorch's own time for one text-encoder pass over 2 prompts (2 threads, float32,
median of 3), the peer of `skipstep bench --component text --batch 1 --guidance 7.5`; the UNet and
VAE timings are in DIR/goldens.json (tools/make_sd_real_shapes.py).

Pinned: torch 2.13.0+cpu, diffusers 0.42.1, transformers 5.23.0.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import torch
import diffusers
import transformers
from transformers import CLIPTextConfig, CLIPTextModel

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "Tests/Fixtures/clip"
SCHEDULER = {  # stabilityai/stable-diffusion-2-1-base scheduler/scheduler_config.json
    "_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
    "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "epsilon", "set_alpha_to_one": False,
    "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None,
}
INDEX = {
    "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
    "feature_extractor": [None, None], "requires_safety_checker": False, "safety_checker": [None, None],
    "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
TEXT = dict(vocab_size=49408, hidden_size=1024, intermediate_size=4096, num_hidden_layers=23, num_attention_heads=16,
            max_position_embeddings=77, hidden_act="gelu", layer_norm_eps=1e-5, projection_dim=512,
            bos_token_id=49406, eos_token_id=49407, pad_token_id=0)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    found = (torch.__version__, diffusers.__version__, transformers.__version__)
    if found != ("2.13.0+cpu", "0.42.1", "5.23.0"):
        sys.exit(f"pinned torch 2.13.0+cpu, diffusers 0.42.1, transformers 5.23.0; found {found}")
    root = Path(sys.argv[1])
    for name in ("unet_base", "vae"):
        if not (root / name / "config.json").exists():
            sys.exit(f"{root / name} is missing: run python tools/make_sd_real_shapes.py {root} first")
    out = root / "pipeline"
    if out.exists():
        shutil.rmtree(out)
    (out / "scheduler").mkdir(parents=True)
    (out / "scheduler/scheduler_config.json").write_text(json.dumps(SCHEDULER, indent=2) + "\n")
    (out / "model_index.json").write_text(json.dumps(INDEX, indent=2) + "\n")
    (out / "tokenizer").mkdir()
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(CLIP / name, out / "tokenizer" / name)
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        shutil.copy(CLIP / "vocab_layout" / name, out / "tokenizer" / name)
    os.symlink(Path("..") / "unet_base", out / "unet")
    os.symlink(Path("..") / "vae", out / "vae")

    torch.set_num_threads(2)
    torch.manual_seed(3200)
    model = CLIPTextModel(CLIPTextConfig(**TEXT)).eval()
    ids = torch.randint(0, 49408, (2, 77), generator=torch.Generator().manual_seed(3201))
    with torch.no_grad():
        model(ids)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            model(ids)
            times.append(time.perf_counter() - start)
    model.half().save_pretrained(out / "text_encoder", safe_serialization=True)
    parameters = sum(p.numel() for p in model.parameters())
    print(json.dumps({"text_encoder_parameters": parameters, "torch_threads": 2,
                      "text_encoder_2prompts_s": statistics.median(times)}))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
