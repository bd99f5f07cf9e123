#!/usr/bin/env python3
"""Time a diffusers UNet2DModel forward pass in PyTorch on the CPU: the peer that `skipstep bench`
is measured against (docs/PERFORMANCE.md).

Commands (run from the repository root; the models come from tools/make_unet_fixtures.py):

    python tools/make_unet_fixtures.py --cifar10 /tmp/bigmodels
    python tools/bench_torch_unet.py /tmp/bigmodels/ddpm-cifar10-32-random --batch 16
    python tools/bench_torch_unet.py /tmp/bigmodels/small-28-random --batch 1 --runs 50 --json
    python tools/bench_torch_unet.py MODEL --batch 16 --compare skipstep.json   # prints the ratio

MODEL is a bare model folder (config.json + diffusion_pytorch_model.safetensors) or a diffusers
pipeline folder (model_index.json + unet/).

Versions used for docs/PERFORMANCE.md: Python 3.11.7, torch 2.13.0+cpu, diffusers 0.42.1, numpy 2.4.6.

Method: torch.set_num_threads(THREADS) (default 2) and torch.set_num_interop_threads(1) before any
work; model.eval() under torch.inference_mode(); input x ~ seeded randn of shape
(batch, in_channels, sample_size), one int64 timestep per image (spread over 0..999); WARMUP untimed
forwards, then RUNS timed ones (time.perf_counter around each call). Reported: median / min / max
seconds per forward, images per second (batch / median), GFLOP per image and GFLOP/s (from the
median), peak RSS (getrusage ru_maxrss, whole process lifetime; also the RSS right after loading).

FLOP count: 2 x multiply-adds of every nn.Conv2d and nn.Linear (counted with forward hooks from the
actual input/output shapes) and of the two attention matmuls (Q K^T and A V: 2 x B x heads x N x N x
head_dim multiply-adds for N = H*W tokens), per image; element-wise work (GroupNorm, SiLU, softmax,
adds, upsampling) is not counted. `--sgemm N` also times torch.mm on N x N float32 matrices with the
same threads, the machine's reference GEMM rate. `--flop-check` also runs torch.utils.flop_counter.FlopCounterMode
(which counts convolution, matmul and SDPA kernels the same way) and prints both.

--compare FILE reads a JSON object (the last line of FILE that parses as one) with "images_per_second"
or "evaluations_per_s" (`skipstep bench --json` output) and prints FILE's throughput / PyTorch's throughput.
--against CMD is the better way on a shared machine: it alternates a PyTorch timing and CMD (which must
print such a JSON line) for --rounds rounds and reports the median of the per-round ratios, e.g.

    python tools/bench_torch_unet.py MODEL --batch 16 --against \
        "swift run -c release skipstep bench --model MODEL --batch 16 --json" --rounds 5
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch


def _rss_now_mib() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def load_model(path: Path):
    from diffusers import UNet2DModel

    if (path / "model_index.json").exists():
        model = UNet2DModel.from_pretrained(path, subfolder="unet")
    else:
        model = UNet2DModel.from_pretrained(path)
    return model.eval()


def count_flops_hooks(model, x, t) -> dict:
    """Per-forward multiply-adds x 2 of Conv2d, Linear and attention matmuls (forward hooks)."""
    from diffusers.models.attention_processor import Attention

    totals = {"conv": 0, "linear": 0, "attention_matmul": 0}
    handles = []

    def conv_hook(module, inputs, output):
        k = module.kernel_size[0] * module.kernel_size[1]
        macs = output.numel() * (module.in_channels // module.groups) * k
        totals["conv"] += 2 * macs

    def linear_hook(module, inputs, output):
        totals["linear"] += 2 * output.numel() * module.in_features

    def attention_hook(module, args, kwargs, output):
        hidden = args[0] if args else kwargs["hidden_states"]
        if hidden.ndim == 4:
            b, c, h, w = hidden.shape
            n = h * w
        else:
            b, n, c = hidden.shape
        inner = module.inner_dim  # heads * head_dim
        totals["attention_matmul"] += 2 * (2 * b * n * n * inner)  # QK^T and AV

    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            handles.append(module.register_forward_hook(conv_hook))
        elif isinstance(module, torch.nn.Linear):
            handles.append(module.register_forward_hook(linear_hook))
        elif isinstance(module, Attention):
            handles.append(module.register_forward_hook(attention_hook, with_kwargs=True))
    try:
        with torch.inference_mode():
            model(x, t)
    finally:
        for h in handles:
            h.remove()
    totals["total"] = sum(totals.values())
    return totals


def count_flops_torch(model, x, t) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode():
        counter = FlopCounterMode(display=False)
        with counter:
            model(x, t)
    return int(counter.get_total_flops())


def sgemm_rate(n: int, runs: int = 10) -> float:
    """GFLOP/s of torch.mm on n x n float32 matrices (2 n^3 FLOP per product), median of `runs`."""
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    out = torch.empty(n, n)
    times = []
    with torch.inference_mode():
        for _ in range(3):
            torch.mm(a, b, out=out)
        for _ in range(runs):
            start = time.perf_counter()
            torch.mm(a, b, out=out)
            times.append(time.perf_counter() - start)
    return 2 * n ** 3 / statistics.median(times) / 1e9


THROUGHPUT_KEYS = ("images_per_second", "evaluations_per_s")  # ours, `skipstep bench --json`'s


def _throughput(obj) -> float | None:
    if isinstance(obj, dict):
        for key in THROUGHPUT_KEYS:
            if isinstance(obj.get(key), (int, float)):
                return float(obj[key])
    return None


def _last_json_with_ips(text: str) -> dict:
    """The last line of `text` that is a JSON object with a throughput key (or the whole text), as
    {"images_per_second": value, "raw": object}. `skipstep bench --json` writes "evaluations_per_s"
    (batch / median seconds, the same quantity)."""
    found = None
    for line in text.splitlines():
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if _throughput(obj) is not None:
            found = obj
    if found is None:
        try:
            found = json.loads(text)
        except json.JSONDecodeError:
            found = None
    value = _throughput(found)
    if value is None:
        sys.exit(f"no JSON object with one of {THROUGHPUT_KEYS} in the other engine's output")
    return {"images_per_second": value, "raw": found}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path, help="model folder or pipeline folder")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true", help="also print one JSON line with the results")
    ap.add_argument("--flop-check", action="store_true", help="cross-check the FLOP count with FlopCounterMode")
    ap.add_argument("--sgemm", type=int, metavar="N", default=0,
                    help="also measure torch.mm GFLOP/s on N x N float32 matrices (same threads)")
    ap.add_argument("--compare", type=Path, metavar="FILE", help="JSON with images_per_second to compare with")
    ap.add_argument("--against", metavar="CMD",
                    help="shell command printing a JSON line with images_per_second (e.g. skipstep bench --json); "
                         "run alternately with the PyTorch timing for --rounds rounds, ratio per round")
    ap.add_argument("--rounds", type=int, default=5, help="rounds for --against (default 5)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    from diffusers.utils import logging as dlogging
    dlogging.set_verbosity_error()

    model = load_model(args.model)
    rss_after_load = _rss_now_mib()
    config = model.config
    size = config.sample_size
    spatial = (size, size) if isinstance(size, int) else tuple(size)
    params = sum(p.numel() for p in model.parameters())

    gen = torch.Generator().manual_seed(args.seed)
    x1 = torch.randn((1, config.in_channels, *spatial), generator=gen)
    t1 = torch.tensor([500], dtype=torch.int64)
    flops = count_flops_hooks(model, x1, t1)
    flops_torch = count_flops_torch(model, x1, t1) if args.flop_check else None

    x = torch.randn((args.batch, config.in_channels, *spatial), generator=gen)
    t = torch.linspace(0, 999, args.batch).round().to(torch.int64) if args.batch > 1 else t1
    def time_torch() -> list[float]:
        times = []
        with torch.inference_mode():
            for _ in range(args.warmup):
                model(x, t)
            for _ in range(args.runs):
                start = time.perf_counter()
                model(x, t)
                times.append(time.perf_counter() - start)
        return times

    rounds = []
    if args.against:
        # alternate PyTorch and the other engine so that both see the same machine state
        for r in range(args.rounds):
            torch_median = statistics.median(time_torch())
            other = _last_json_with_ips(subprocess.run(args.against, shell=True, check=True,
                                                       capture_output=True, text=True).stdout)
            rounds.append({"torch_images_per_second": args.batch / torch_median,
                           "other_images_per_second": other["images_per_second"],
                           "ratio": other["images_per_second"] * torch_median / args.batch})
            print(f"round {r + 1}: PyTorch {args.batch / torch_median:.2f} images/s, other "
                  f"{other['images_per_second']:.2f} images/s, ratio {rounds[-1]['ratio']:.2f}", file=sys.stderr)
    times = time_torch()
    median = statistics.median(times)
    images_per_second = args.batch / median
    gflop_per_image = flops["total"] / 1e9
    result = {
        "tool": "bench_torch_unet.py",
        "model": str(args.model),
        "batch": args.batch,
        "threads": args.threads,
        "interop_threads": torch.get_num_interop_threads(),
        "warmup": args.warmup,
        "runs": args.runs,
        "sample": [config.in_channels, *spatial],
        "parameters": params,
        "median_s": median,
        "min_s": min(times),
        "max_s": max(times),
        "images_per_second": images_per_second,
        "evaluations_per_s": images_per_second,
        "gflop_per_image": gflop_per_image,
        "gflop_per_image_by_kind": {k: v / 1e9 for k, v in flops.items() if k != "total"},
        "gflops_per_second": gflop_per_image * images_per_second,
        "rss_after_load_mib": rss_after_load,
        "peak_rss_mib": _peak_rss_mib(),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "machine": platform.processor() or platform.machine(),
    }
    if flops_torch is not None:
        result["gflop_per_image_flopcountermode"] = flops_torch / 1e9
    if args.sgemm:
        result["sgemm_n"] = args.sgemm
        result["sgemm_gflops_per_second"] = sgemm_rate(args.sgemm)

    print(f"model {args.model}  ({params / 1e6:.2f} M parameters, input {[config.in_channels, *spatial]})")
    print(f"torch {torch.__version__}, {args.threads} threads (interop {torch.get_num_interop_threads()}), "
          f"cpu capability {result['cpu_capability']}")
    print(f"FLOPs per image: {gflop_per_image:.3f} GFLOP "
          f"(conv {flops['conv'] / 1e9:.3f}, linear {flops['linear'] / 1e9:.3f}, "
          f"attention matmuls {flops['attention_matmul'] / 1e9:.3f})"
          + (f"; FlopCounterMode: {flops_torch / 1e9:.3f} GFLOP" if flops_torch is not None else ""))
    print(f"batch {args.batch}: median {median * 1e3:.2f} ms, min {min(times) * 1e3:.2f} ms, "
          f"max {max(times) * 1e3:.2f} ms per forward ({args.runs} runs after {args.warmup} warm-up)")
    print(f"{images_per_second:.2f} images/s, {result['gflops_per_second']:.1f} GFLOP/s, "
          f"peak RSS {result['peak_rss_mib']:.0f} MiB (after load {rss_after_load:.0f} MiB)")
    if args.sgemm:
        print(f"torch.mm {args.sgemm}x{args.sgemm} float32: {result['sgemm_gflops_per_second']:.1f} GFLOP/s "
              f"(the UNet reaches {result['gflops_per_second'] / result['sgemm_gflops_per_second']:.0%} of it)")
    if rounds:
        ratio = statistics.median(r["ratio"] for r in rounds)
        result["against"] = {"command": args.against, "rounds": rounds, "median_ratio_vs_torch": ratio}
        print(f"against `{args.against}`: median ratio over {len(rounds)} alternating rounds = {ratio:.2f}x PyTorch "
              "(rounds: " + ", ".join(f"{r['ratio']:.2f}" for r in rounds) + ")")
    if args.compare is not None:
        other = _last_json_with_ips(args.compare.read_text())
        ratio = other["images_per_second"] / images_per_second
        result["compare"] = {"file": str(args.compare), "images_per_second": other["images_per_second"],
                             "ratio_vs_torch": ratio, "other": other["raw"]}
        print(f"{args.compare}: {other['images_per_second']:.2f} images/s = {ratio:.2f}x PyTorch")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
