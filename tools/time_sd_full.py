#!/usr/bin/env python3
"""One full-size Stable Diffusion 2.1-base text-to-image run, timed in diffusers and in skipstep on the
same random weights (docs/STABLE_DIFFUSION.md, "Speed").

    python tools/time_sd_full.py DIR                          # write DIR: a complete random pipeline folder
    python tools/time_sd_full.py DIR --time BIN [--rounds 1]  # then time diffusers and `BIN txt2img`

DIR is a StableDiffusionPipeline folder with SD 2.1-base's published shapes (UNet 865.9 M and text
encoder configs of tools/make_sd_real_shapes.py and tools/make_clip_goldens.py; full AutoencoderKL;
the CLIP vocabulary of Tests/Fixtures/clip; DDIMScheduler with SD 2.1-base's scheduler values),
random weights stored as float16 (≈ 2.6 GB; speed does not depend on the values). Not committed.

The timed job: one 512×512 image, 25 DDIM steps, classifier-free guidance 7.5 (two UNet rows per
step), seed 0, float32 compute, 2 threads; each engine in its own process (wall time of the whole
job including loading, and the time from the first UNet call to the image; peak RSS = VmHWM).
FLOP of the job (issue 20's analytic count): 50 UNet image-evals × 804 GFLOP + decoder 2 515 GFLOP
+ text encoder 90 GFLOP ≈ 42.8 TFLOP.

Pinned: torch 2.13.0+cpu, diffusers 0.42.1, transformers 5.23.0.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
CLIP = TOOLS.parent / "Tests" / "Fixtures" / "clip"
PROMPT = "a photograph of an astronaut riding a horse"
JOB_TFLOP = 42.8
SCHEDULER = {"_class_name": "DDIMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
             "clip_sample": False, "num_train_timesteps": 1000, "prediction_type": "epsilon", "set_alpha_to_one": False,
             "steps_offset": 1, "trained_betas": None}


def write(folder: Path) -> None:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    sys.path.insert(0, str(TOOLS))
    from make_clip_goldens import SD21_TEXT_CONFIG
    from make_sd_real_shapes import UNET, VAE

    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    tok_dir = staging / "tokenizer"
    tok_dir.mkdir(parents=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(CLIP / name, tok_dir / name)
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        shutil.copy(CLIP / "vocab_layout" / name, tok_dir / name)
    torch.manual_seed(4000)
    with torch.no_grad():
        unet = UNet2DConditionModel(**UNET).half()
        vae = AutoencoderKL(**VAE).half()
        config = dict(SD21_TEXT_CONFIG)
        config.pop("architectures")
        text = CLIPTextModel(CLIPTextConfig(**config)).half()
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text, tokenizer=CLIPTokenizer.from_pretrained(str(tok_dir)),
                                   unet=unet, scheduler=DDIMScheduler(**{k: v for k, v in SCHEDULER.items() if k != "_class_name"}),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(staging, safe_serialization=True)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(staging, folder)
    print(f"wrote {folder}")


def _hwm_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def diffusers_job(folder: Path, out: Path) -> dict:
    started = time.perf_counter()
    import torch
    from diffusers import StableDiffusionPipeline

    torch.set_num_threads(2)
    torch.set_num_interop_threads(1)
    pipe = StableDiffusionPipeline.from_pretrained(folder, torch_dtype=torch.float32, safety_checker=None,
                                                   feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    loaded = time.perf_counter()
    with torch.inference_mode():
        image = pipe(PROMPT, height=512, width=512, num_inference_steps=25, guidance_scale=7.5,
                     generator=torch.Generator().manual_seed(0)).images[0]
    done = time.perf_counter()
    image.save(out)
    return {"engine": "diffusers", "wall_s": done - started, "job_s": done - loaded, "peak_rss_mib": _hwm_mib()}


def skipstep_job(binary: str, folder: Path, out: Path) -> dict:
    env = dict(os.environ, SKIPSTEP_KERNEL_THREADS="2")
    command = [binary, "txt2img", "--model", str(folder), "--prompt", PROMPT, "--height", "512", "--width", "512",
               "--steps", "25", "--guidance", "7.5", "--sampler", "ddim", "--seed", "0", "--out", str(out), "--overwrite"]
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "maxrss_kib=%M"] + command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"time_sd_full: skipstep failed:\n{result.stderr[-3000:]}")
    rss = [line for line in result.stderr.splitlines() if line.startswith("maxrss_kib=")]
    return {"engine": "skipstep", "wall_s": wall, "peak_rss_mib": int(rss[-1].split("=")[1]) / 1024 if rss else None,
            "stderr_tail": result.stderr.splitlines()[-6:]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--time", metavar="BIN", help="time diffusers and BIN txt2img on the folder")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--diffusers-job", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=Path("/tmp"), help="where the two images go")
    args = ap.parse_args()
    if args.diffusers_job:
        print(json.dumps(diffusers_job(args.folder, args.out / "sd-full-diffusers.png")))
        return 0
    if not (args.folder / "model_index.json").exists():
        write(args.folder)
    if not args.time:
        return 0
    results = []
    for round_index in range(args.rounds):
        for engine in (("diffusers", "skipstep") if round_index % 2 == 0 else ("skipstep", "diffusers")):
            if engine == "diffusers":
                proc = subprocess.run([sys.executable, __file__, str(args.folder), "--diffusers-job", "--out", str(args.out)],
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    raise SystemExit(f"time_sd_full: diffusers failed:\n{proc.stderr[-3000:]}")
                report = json.loads(proc.stdout.strip().splitlines()[-1])
            else:
                report = skipstep_job(args.time, args.folder, args.out / "sd-full-skipstep.png")
            report["round"] = round_index
            results.append(report)
            print(json.dumps(report), file=sys.stderr, flush=True)
    for engine in ("diffusers", "skipstep"):
        walls = [r["wall_s"] for r in results if r["engine"] == engine]
        rss = max(r["peak_rss_mib"] or 0 for r in results if r["engine"] == engine)
        wall = statistics.median(walls)
        print(f"{engine}: {wall:.1f} s per 512² image (whole process, median of {len(walls)}), "
              f"{JOB_TFLOP / wall:.3f} TFLOP/s, peak RSS {rss:.0f} MiB")
    ratio = statistics.median(
        next(r["wall_s"] for r in results if r["engine"] == "diffusers" and r["round"] == k)
        / next(r["wall_s"] for r in results if r["engine"] == "skipstep" and r["round"] == k) for k in range(args.rounds))
    print(f"skipstep / diffusers throughput: {ratio:.2f}× (median of per-round ratios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
