#!/usr/bin/env python3
"""End-to-end Stable Diffusion goldens for `skipstep txt2img` (issue 20), in Tests/Fixtures/sd/pipeline/.

A tiny StableDiffusionPipeline is assembled from fixtures other tools wrote, so no weights are
duplicated: the SD 2 tokenizer (Tests/Fixtures/clip: vocab.json, merges.txt, vocab_layout/*.json,
tools/make_clip_vocab.py), the random CLIPTextModel (Tests/Fixtures/clip/text_encoder,
tools/make_clip_goldens.py), the random UNet2DConditionModel (Tests/Fixtures/sd/unet_linear_list_heads)
and AutoencoderKL (Tests/Fixtures/sd/vae, tools/make_sd_fixtures.py). This script writes the
scheduler configs (SD 2.1's values: scaled_linear 0.00085-0.012, steps_offset 1,
set_alpha_to_one false, clip_sample false; epsilon and v_prediction), model_index.json, and goldens:

- `diffusers` cases: StableDiffusionPipeline.__call__ with DDIMScheduler and
  DPMSolverMultistepScheduler (from the same config), 10 and 25 steps, guidance 1.0 and 7.5,
  negative prompt "" (diffusers' default) and a non-empty one; and with PNDMScheduler from the same
  config plus `skip_prk_steps=True` (as SD 1.x / 2.1-base publish it), 10 and 25 steps at guidance
  7.5 (sampler "pndm"); two images with generator=[torch.Generator().manual_seed(seed + i)],
  output_type="np" (images in [0, 1]).
- `reference` cases: skipped-step and Mix (t_c = 500) have no diffusers scheduler; a Float64 loop
  here runs them around the same diffusers UNet (float32, CFG as the pipeline does it) with the
  same torch noise (x_T, then one randn per noisy step per image, each image its own generator),
  the paper's Algorithm 2 coefficients in float64, DDIM below t_c ending at ᾱ[0]
  (set_alpha_to_one false), then the same VAE decode.

Run from the repository root:

    python tools/make_sd_pipeline_fixtures.py          # (re)write Tests/Fixtures/sd/pipeline/
    python tools/make_sd_pipeline_fixtures.py --check  # regenerate to a temp dir, compare byte for byte

Pinned: Python 3.11.7, torch 2.13.0+cpu, diffusers 0.42.1, transformers 5.23.0, numpy 2.4.6.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

import diffusers
import transformers
from diffusers import (AutoencoderKL, DDIMScheduler, DPMSolverMultistepScheduler, PNDMScheduler,
                       StableDiffusionPipeline, UNet2DConditionModel)
from transformers import CLIPTextModel, CLIPTokenizer

EXPECTED = {"python": "3.11.7", "torch": "2.13.0+cpu", "diffusers": "0.42.1", "transformers": "5.23.0", "numpy": "2.4.6"}
ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "Tests/Fixtures/clip"
SD = ROOT / "Tests/Fixtures/sd"
UNET = SD / "unet_linear_list_heads"
VAE = SD / "vae"

SCHEDULER = {  # stabilityai/stable-diffusion-2-1-base scheduler_config.json values, as a DDIMScheduler
    "_class_name": "DDIMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
    "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "epsilon", "set_alpha_to_one": False,
    "steps_offset": 1, "trained_betas": None,
}
INDEX = {
    "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.42.1",
    "feature_extractor": [None, None], "requires_safety_checker": False, "safety_checker": [None, None],
    "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}
PROMPT = "a photo of a cat! sitting on a red chair"
NEGATIVE = "blurry, low quality"
SEED = 7
IMAGES = 2


def versions() -> dict:
    return {"python": sys.version.split()[0], "torch": torch.__version__, "diffusers": diffusers.__version__,
            "transformers": transformers.__version__, "numpy": np.__version__}


def assemble(folder: Path, prediction: str) -> None:
    """The pipeline folder layout skipstep reads (the Swift test builds the same one)."""
    tok = folder / "tokenizer"
    tok.mkdir(parents=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(CLIP / name, tok / name)
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        shutil.copy(CLIP / "vocab_layout" / name, tok / name)
    shutil.copytree(CLIP / "text_encoder", folder / "text_encoder")
    (folder / "unet").mkdir()
    (folder / "vae").mkdir()
    for src, dst in ((UNET, folder / "unet"), (VAE, folder / "vae")):
        for name in ("config.json", "diffusion_pytorch_model.safetensors"):
            shutil.copy(src / name, dst / name)
    (folder / "scheduler").mkdir()
    (folder / "scheduler/scheduler_config.json").write_text(json.dumps(dict(SCHEDULER, prediction_type=prediction), indent=2) + "\n")
    (folder / "model_index.json").write_text(json.dumps(INDEX, indent=2) + "\n")


def load(folder: Path) -> StableDiffusionPipeline:
    pipe = StableDiffusionPipeline.from_pretrained(folder, safety_checker=None, feature_extractor=None,
                                                   requires_safety_checker=False, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generators() -> list:
    return [torch.Generator().manual_seed(SEED + i) for i in range(IMAGES)]


def run_diffusers(pipe, scheduler: str, steps: int, guidance: float, negative: str | None) -> np.ndarray:
    if scheduler == "dpmpp-2m":
        pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    elif scheduler == "pndm":
        pipe.scheduler = PNDMScheduler.from_config(pipe.scheduler.config, skip_prk_steps=True)
    else:
        pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    with torch.no_grad():
        out = pipe(prompt=[PROMPT] * IMAGES, negative_prompt=None if negative is None else [negative] * IMAGES,
                   num_inference_steps=steps, guidance_scale=guidance, generator=generators(), output_type="np")
    return np.ascontiguousarray(out.images.transpose(0, 3, 1, 2), dtype=np.float32)  # NHWC -> NCHW


def run_reference(pipe, kind: str, steps: int, guidance: float, cutoff: int | None) -> np.ndarray:
    """Skipped-step (kind "skip") or Mix (kind "mix", DDIM(0) for steps starting below `cutoff`) in float64."""
    config = pipe.scheduler.config
    betas = np.linspace(config.beta_start ** 0.5, config.beta_end ** 0.5, config.num_train_timesteps, dtype=np.float64) ** 2
    abar = np.cumprod(1 - betas)
    # The scheduler's own spacing (leading + steps_offset), as skipstep uses it for any sampler.
    ts = [int(t) for t in (np.arange(0, steps) * (config.num_train_timesteps // steps) + config.steps_offset)[::-1]]
    gens = generators()
    unet, vae = pipe.unet, pipe.vae
    h = w = unet.config.sample_size
    with torch.no_grad():
        cond, uncond = pipe.encode_prompt([PROMPT] * IMAGES, "cpu", 1, guidance > 1, None)
        x = torch.cat([torch.randn((1, 4, h, w), generator=g, dtype=torch.float32) for g in gens]).double()
        for k, s in enumerate(ts):
            p = ts[k + 1] if k + 1 < len(ts) else -1
            xin = x.float()
            if guidance > 1:
                out = unet(torch.cat([xin, xin]), s, encoder_hidden_states=torch.cat([uncond, cond])).sample
                u, c = out.chunk(2)
                out = u + guidance * (c - u)
            else:
                out = unet(xin, s, encoder_hidden_states=cond).sample
            out = out.double()
            a_s = abar[s]
            eps = out if config.prediction_type == "epsilon" else a_s ** 0.5 * out + (1 - a_s) ** 0.5 * x
            skip = kind == "skip" or s >= cutoff
            if skip:
                a_p = abar[p] if p >= 0 else 1.0
                x = (a_p / a_s) ** 0.5 * x - (a_p - a_s) / (a_s * a_p * (1 - a_s)) ** 0.5 * eps
                if p >= 0:
                    std = ((a_p - a_s) * (1 - a_p) / (a_p * (1 - a_s))) ** 0.5
                    z = torch.cat([torch.randn((1, 4, h, w), generator=g, dtype=torch.float32) for g in gens]).double()
                    x = x + std * z
            else:
                a_p = abar[p] if p >= 0 else abar[0]  # set_alpha_to_one false: final_alpha_cumprod = ᾱ[0]
                x0 = (x - (1 - a_s) ** 0.5 * eps) / a_s ** 0.5
                x = a_p ** 0.5 * x0 + (1 - a_p) ** 0.5 * eps
        image = vae.decode(x.float() / vae.config.scaling_factor).sample
        image = (image / 2 + 0.5).clamp(0, 1)
    return np.ascontiguousarray(image.numpy(), dtype=np.float32)


def make(out: Path) -> None:
    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    cases, blob, self_checks = [], [], {}
    offset = 0
    for prediction in ("epsilon", "v_prediction"):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "pipeline"
            assemble(folder, prediction)
            pipe = load(folder)
            runs = []
            for scheduler in ("ddim", "dpmpp-2m"):
                for steps in (10, 25):
                    for guidance, negative in ((1.0, None), (7.5, None), (7.5, NEGATIVE)):
                        runs.append(dict(source="diffusers", sampler=scheduler, steps=steps, guidance=guidance, negative=negative))
            for kind, cutoff in (("skip", None), ("mix", 500)):
                runs.append(dict(source="reference", sampler=kind if cutoff is None else f"mix:cutoff={cutoff}",
                                 kind=kind, cutoff=cutoff, steps=10, guidance=7.5, negative=None))
            for steps in (10, 25):
                runs.append(dict(source="diffusers", sampler="pndm", steps=steps, guidance=7.5, negative=None))
            # The reference loop itself, checked where diffusers has the same sampler: with t_c above
            # every step, Mix is DDIM(0), and must give diffusers' DDIM image.
            check = run_reference(pipe, "mix", 10, 7.5, 10 ** 6)
            ddim = run_diffusers(pipe, "ddim", 10, 7.5, None)
            error = float(np.linalg.norm(check - ddim) / np.linalg.norm(ddim))
            assert error < 1e-5, f"the float64 reference loop differs from diffusers' DDIM: {error}"
            self_checks[prediction] = error
            for run in runs:
                if run["source"] == "diffusers":
                    images = run_diffusers(pipe, run["sampler"], run["steps"], run["guidance"], run["negative"])
                else:
                    images = run_reference(pipe, run["kind"], run["steps"], run["guidance"], run["cutoff"])
                run.pop("kind", None); run.pop("cutoff", None)
                cases.append(dict(run, prediction=prediction, offset=offset, shape=list(images.shape)))
                offset += images.size
                blob.append(images.reshape(-1))
    data = np.concatenate(blob).astype("<f4")
    (out / "goldens.bin").write_bytes(data.tobytes())
    meta = {"format": "skipstep-sd-pipeline-goldens/1", "command": "python tools/make_sd_pipeline_fixtures.py",
            "versions": versions(), "prompt": PROMPT, "seed": SEED, "images": IMAGES,
            "scheduler_config": SCHEDULER, "model_index": INDEX,
            "components": {"tokenizer": "Tests/Fixtures/clip (vocab.json, merges.txt, vocab_layout/)",
                           "text_encoder": "Tests/Fixtures/clip/text_encoder", "unet": str(UNET.relative_to(ROOT)),
                           "vae": str(VAE.relative_to(ROOT))},
            "reference_loop_all_ddim_vs_diffusers_rel_l2": self_checks, "cases": cases}
    (out / "goldens.json").write_text(json.dumps(meta, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--allow-other-versions", action="store_true")
    args = parser.parse_args()
    if versions() != EXPECTED and not args.allow_other_versions:
        sys.exit(f"versions {versions()} differ from the pinned {EXPECTED}")
    target = SD / "pipeline"
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            make(Path(tmp))
            same = all(filecmp.cmp(Path(tmp) / n, target / n, shallow=False) for n in ("goldens.json", "goldens.bin"))
            print("identical" if same else "DIFFERENT")
            sys.exit(0 if same else 1)
    make(target)
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
