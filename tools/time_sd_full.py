#!/usr/bin/env python3
"""One full-size Stable Diffusion 2.1-base text-to-image run, timed in diffusers and in skipstep on the
same random weights (docs/STABLE_DIFFUSION.md).

    python tools/make_sd_real_shapes.py DIR && python tools/make_sd_bench_pipeline.py DIR   # the folder
    python tools/time_sd_full.py DIR/pipeline --time .build/release/skipstep [--rounds 1]

The timed job: one 512×512 image, 25 steps of the folder's own scheduler (2.1-base's PNDM:
26 network evaluations), classifier-free guidance 7.5 (two UNet rows per evaluation), seed 0,
float32 compute, 2 threads; each engine in its own process (wall time of the whole job including
loading; peak RSS = VmHWM for diffusers, GNU time's maximum RSS for skipstep).
FLOP (issue 20's analytic count): 52 UNet image-evals × 804.3 GFLOP + decoder 2 515 GFLOP + text
encoder 90 GFLOP ≈ 44.4 TFLOP.

Pinned: torch 2.13.0+cpu, diffusers 0.42.1, transformers 5.23.0.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

PROMPT = "a photograph of an astronaut riding a horse"
JOB_TFLOP = 44.4


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
               "--steps", "25", "--guidance", "7.5", "--seed", "0", "--out", str(out), "--overwrite"]
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
    ap.add_argument("folder", type=Path, help="a StableDiffusionPipeline folder (tools/make_sd_bench_pipeline.py)")
    ap.add_argument("--time", metavar="BIN", help="time diffusers and BIN txt2img on the folder (required)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--diffusers-job", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=Path("/tmp"), help="where the two images go")
    args = ap.parse_args()
    if args.diffusers_job:
        print(json.dumps(diffusers_job(args.folder, args.out / "sd-full-diffusers.png")))
        return 0
    if args.time is None:
        ap.error("the following arguments are required: --time")
    if not (args.folder / "model_index.json").exists():
        raise SystemExit(f"time_sd_full: {args.folder} has no model_index.json (make it with tools/make_sd_bench_pipeline.py)")
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
