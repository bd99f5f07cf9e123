"""Fixtures for `.npz` statistics interchange with pytorch-fid (Tests/Fixtures/metrics/npz/).

Two directions, both through pytorch-fid's own code paths:

1. pytorch-fid → skipstep: `features_a.npy` (float32 60×8) and its statistics saved the way
   `pytorch_fid.fid_score.save_fid_stats` does (`calculate_activation_statistics` gives mu in the
   features' float32 and sigma = np.cov in float64; `np.savez_compressed(mu=, sigma=)`), plus the
   same statistics in float64 through `np.savez` (stored members, numpy's ZIP64 local headers).
2. skipstep → pytorch-fid: `skipstep_b.npz`, written by `skipstep eval --save-stats` from
   `features_b.npy`, is loaded by `pytorch_fid.fid_score.compute_statistics_of_path` (the `.npz`
   branch) and compared with numpy's mean/cov of the same features; the FID between the two files
   as pytorch-fid computes it is the golden (`golden.json`).

Versions: Python 3.11.7, numpy 2.4.6, scipy 1.17.1, torch 2.13.0+cpu, pytorch-fid 0.3.0,
torchvision 0.28.0 (its CUDA extension cannot load on CPU torch; meta registrations skipped).

Commands (from the repository root):
    python3 tools/make_npz_fixtures.py
    swift build -c release && .build/release/skipstep eval --features Tests/Fixtures/metrics/npz/features_b.npy \
        --reference-features Tests/Fixtures/metrics/npz/features_a.npy --metrics fid \
        --save-stats Tests/Fixtures/metrics/npz/skipstep_b.npz
    python3 tools/make_npz_fixtures.py --golden
"""
import argparse
import json
import os
import sys
import types

sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")

import numpy as np  # noqa: E402
from pytorch_fid.fid_score import calculate_frechet_distance, compute_statistics_of_path  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "metrics", "npz")


def features():
    rng = np.random.default_rng(20261123)
    mix = rng.standard_normal((8, 8)) * 0.4 + np.eye(8)
    a = (rng.standard_normal((60, 8)) @ mix).astype(np.float32)
    b = (rng.standard_normal((50, 8)) @ (mix * 0.9) + 0.25).astype(np.float32)
    return a, b


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--golden", action="store_true", help="read skipstep_b.npz with pytorch-fid and write golden.json")
    args = p.parse_args()
    os.makedirs(OUT, exist_ok=True)
    a, b = features()
    if not args.golden:
        np.save(os.path.join(OUT, "features_a.npy"), a)
        np.save(os.path.join(OUT, "features_b.npy"), b)
        mu, sigma = np.mean(a, axis=0), np.cov(a, rowvar=False)  # calculate_activation_statistics
        assert mu.dtype == np.float32 and sigma.dtype == np.float64
        np.savez_compressed(os.path.join(OUT, "pytorch_fid_a.npz"), mu=mu, sigma=sigma)
        np.savez(os.path.join(OUT, "numpy_stored_a.npz"), mu=mu.astype(np.float64), sigma=sigma)
        print("wrote features and pytorch-fid/numpy .npz files; now run skipstep eval --save-stats, then --golden")
        return

    m1, s1 = compute_statistics_of_path(os.path.join(OUT, "pytorch_fid_a.npz"), None, 0, 0, "cpu")
    m2, s2 = compute_statistics_of_path(os.path.join(OUT, "skipstep_b.npz"), None, 0, 0, "cpu")
    b64 = b.astype(np.float64)
    mean_err = np.abs(m2 - b64.mean(axis=0)).max()
    cov_err = np.abs(s2 - np.cov(b64, rowvar=False)).max()
    print(f"skipstep_b.npz read by pytorch-fid: mu {m2.dtype}{m2.shape}, sigma {s2.dtype}{s2.shape}; "
          f"max |Δ| vs numpy: mean {mean_err:.1e}, cov {cov_err:.1e}")
    assert m2.shape == (8,) and s2.shape == (8, 8) and mean_err < 1e-12 and cov_err < 1e-12
    fid = float(calculate_frechet_distance(m1, s1, m2, s2))
    print(f"pytorch-fid FID(pytorch_fid_a.npz, skipstep_b.npz) = {fid!r}")
    with open(os.path.join(OUT, "golden.json"), "w") as fh:
        json.dump({"fid_a_b": fid, "mean_a": [float(v) for v in m1], "cov_a": [float(v) for v in s1.ravel()],
                   "mean_b": [float(v) for v in b64.mean(axis=0)],
                   "cov_b": [float(v) for v in np.cov(b64, rowvar=False).ravel()]}, fh)
        fh.write("\n")


if __name__ == "__main__":
    main()
