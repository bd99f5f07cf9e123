"""Cross-check the committed metric goldens against the real pip packages.

tools/make_metric_goldens.py re-expresses pytorch-fid and torch-fidelity in numpy/scipy; this
script recomputes the same fixtures with the packages themselves and fails if they disagree:

- FID: pytorch_fid.fid_score.calculate_frechet_distance on np.mean / np.cov of the fixture features.
- KID: torch_fidelity.metric_kid.polynomial_mmd on the fixture's fixed subsets (float64 features,
  as the goldens), plus torch_fidelity's own float32 path for information.
- IS: torch_fidelity.metric_isc.isc_features_to_metric(shuffle=False).

Versions: Python 3.11.7, numpy 2.4.6, scipy 1.17.1, torch 2.13.0+cpu, pytorch-fid 0.3.0,
torch-fidelity 0.3.0, torchvision 0.28.0 (the PyPI wheel, whose CUDA extension cannot load on a
CPU-only torch: its meta registrations are skipped below; no torchvision operator is used).

    pip install "torch==2.13.0+cpu" torchvision==0.28.0 pytorch-fid==0.3.0 torch-fidelity==0.3.0 --no-deps
    python3 tools/check_metric_goldens.py
"""
import json
import os
import sys
import types

sys.modules["torchvision._meta_registrations"] = types.ModuleType("torchvision._meta_registrations")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from pytorch_fid.fid_score import calculate_frechet_distance  # noqa: E402
from torch_fidelity.metric_isc import isc_features_to_metric  # noqa: E402
from torch_fidelity.metric_kid import polynomial_mmd  # noqa: E402

FIX = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "metrics")


def load(name):
    with open(os.path.join(FIX, name)) as fh:
        return json.load(fh)


def matrix(values, d):
    return np.asarray(values, dtype=np.float32).reshape(-1, d)


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def main():
    failures = 0
    for name in ("fid.json", "fid_rank_deficient.json"):
        g = load(name)
        x = matrix(g["x"], g["dimension"]).astype(np.float64)
        y = matrix(g["y"], g["dimension"]).astype(np.float64)
        fid = float(calculate_frechet_distance(x.mean(0), np.cov(x, rowvar=False), y.mean(0), np.cov(y, rowvar=False)))
        r = rel(fid, g["fid_scipy"])
        print(f"{name}: pytorch-fid {fid!r} golden {g['fid_scipy']!r} rel {r:.1e}")
        failures += r > 1e-12

    g = load("kid.json")
    x, y = matrix(g["x"], g["dimension"]), matrix(g["y"], g["dimension"])
    mmds64 = [polynomial_mmd(x.astype(np.float64)[s["x"]], y.astype(np.float64)[s["y"]], 3, None, 1) for s in g["subsets"]]
    mmds32 = [polynomial_mmd(x[s["x"]], y[s["y"]], 3, None, 1) for s in g["subsets"]]
    r = max(rel(a, b) for a, b in zip(mmds64, g["mmd2"]))
    print(f"kid.json: torch-fidelity float64 mean {np.mean(mmds64)!r} golden {g['mean']!r} max rel {r:.1e}; "
          f"torch-fidelity on float32 features mean {np.mean(mmds32)!r}")
    failures += r > 1e-12

    g = load("inception_score.json")
    logits = torch.from_numpy(matrix(g["logits"], g["classes"]))
    out = isc_features_to_metric(logits, splits=g["splits"], shuffle=False)
    mean, std = out["inception_score_mean"], out["inception_score_std"]
    print(f"inception_score.json: torch-fidelity {mean!r} ± {std!r} golden {g['mean']!r} ± {g['std']!r}")
    failures += rel(mean, g["mean"]) > 1e-12 or rel(std, g["std"]) > 1e-9

    if failures:
        sys.exit(f"{failures} golden(s) disagree with the packages")
    print("all goldens agree with pytorch-fid 0.3.0 and torch-fidelity 0.3.0")


if __name__ == "__main__":
    main()
