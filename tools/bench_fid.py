"""The peer of `skipstep bench --fid NxD`: FID between two N x D feature sets as pytorch-fid computes it
(mean and np.cov per set in float64, then pytorch_fid.fid_score.calculate_frechet_distance, which takes
scipy.linalg.sqrtm of the covariance product), timed the same way (warm-up runs, then the median).

Versions: Python 3.11.7, numpy 2.4.6, scipy 1.17.1, pytorch-fid 0.3.0 (torch 2.13.0+cpu, torchvision
0.28.0 with its meta registrations skipped, see tools/README.md). Threads: OPENBLAS_NUM_THREADS /
OMP_NUM_THREADS as set by the caller (2 on the project's machines).

Command: python3 tools/bench_fid.py 10000x2048 --runs 5 [--json]
"""
import argparse
import json
import statistics
import sys
import time
import types

sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")

import numpy as np  # noqa: E402
from pytorch_fid.fid_score import calculate_frechet_distance  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("shape", help="N x D, e.g. 10000x2048")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    n, d = (int(v) for v in args.shape.lower().split("x"))
    rng = np.random.default_rng(0)
    offset = 0.5 * np.arange(d, dtype=np.float32) / d
    a = rng.standard_normal((n, d), dtype=np.float32) + offset
    b = rng.standard_normal((n, d), dtype=np.float32) + offset

    def fid():
        mu1, s1 = np.mean(a, axis=0), np.cov(a, rowvar=False)
        mu2, s2 = np.mean(b, axis=0), np.cov(b, rowvar=False)
        return calculate_frechet_distance(mu1, s1, mu2, s2)

    times, value = [], None
    for i in range(args.warmup + args.runs):
        start = time.perf_counter()
        value = fid()
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
        print(f"run {i + 1}/{args.warmup + args.runs}: {time.perf_counter() - start:.3f} s", file=sys.stderr)
    report = {"fid_features": f"{n}x{d}", "runs": args.runs, "median_s": statistics.median(times),
              "min_s": min(times), "max_s": max(times), "fid": float(value), "peer": "pytorch-fid 0.3.0 (numpy/scipy)"}
    print(json.dumps(report, sort_keys=True) if args.json else
          f"FID of {n}x{d} features (pytorch-fid): median {report['median_s']:.3f} s "
          f"(min {report['min_s']:.3f}, max {report['max_s']:.3f}) over {args.runs} runs; FID {value:.6f}")


if __name__ == "__main__":
    main()
