"""Goldens for skipstep's torch-compatible random source (Sources/Diffusion/TorchGenerator.swift).

Made with: Python 3.11.7, torch 2.13.0+cpu, numpy 2.4.6 (Linux x86_64; torch reports CPU
capability AVX512, whose `torch.randn` takes the same AVX2 code path as an AVX2 machine).

Run from the repository root:

    python tools/make_random_goldens.py

Writes
  Tests/Fixtures/random/torch_randn.json  the index: one entry per case, each a fresh
                                          `torch.Generator().manual_seed(seed)` followed by a
                                          list of calls in order on that one generator
  Tests/Fixtures/random/torch_randn.bin   every call's output, float32 little-endian, back to back

Each call is {"op": "randn" | "rand", "count": n, "offset": index of its first float in the .bin}.
`randn` is `torch.randn(n, generator=g)`; `rand` is `torch.rand(n, generator=g)` (the 24-bit
uniforms that `randn` feeds to Box-Muller for n >= 16).
"""

import json
import pathlib
import sys

import numpy as np
import torch

OUT = pathlib.Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "random"

# (name, seed, [(op, count), ...]); every case starts from a freshly seeded generator.
SIZES = [1, 15, 16, 17, 784]
CASES = []
for seed in [0, 42, 2**32 + 5]:
    for n in SIZES:
        CASES.append((f"seed{seed}_n{n}", seed, [("randn", n)]))
# One long call (400 kB): exercises many MT19937 refills and both Box-Muller paths at scale.
CASES.append(("seed0_n100000", 0, [("randn", 100_000)]))
CASES.append(("seed1_n4099", 1, [("randn", 4099)]))
# State carried across calls: MT position, and the cached second double-path normal
# (3 draws leave one cached; the 17-call does not touch it; the 1-call consumes it).
CASES.append(("seed0_sequence", 0, [("randn", 3), ("randn", 17), ("randn", 1),
                                     ("randn", 784), ("randn", 5)]))
CASES.append(("seed42_sequence", 42, [("randn", 1), ("randn", 16), ("randn", 1),
                                       ("randn", 15), ("randn", 33), ("randn", 2)]))
# Uniforms (`torch.rand` shares the 24-bit uniform with randn's fast path) and a mix of both.
CASES.append(("seed0_rand", 0, [("rand", 1), ("rand", 17), ("rand", 1000)]))
CASES.append(("seed7_mixed", 7, [("randn", 3), ("rand", 5), ("randn", 1), ("randn", 20),
                                  ("rand", 2), ("randn", 7)]))


def main() -> None:
    assert torch.__version__ == "2.13.0+cpu", torch.__version__
    # randn's Box-Muller differs (in the last bits) between the AVX2 kernel (Cephes-style
    # log256_ps / sincos256_ps) and the DEFAULT one (libm); the Swift port follows AVX2.
    assert torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"), "needs an AVX2 CPU"
    OUT.mkdir(parents=True, exist_ok=True)
    chunks, index, offset = [], [], 0
    for name, seed, calls in CASES:
        g = torch.Generator().manual_seed(seed)
        entry = {"name": name, "seed": seed, "calls": []}
        for op, n in calls:
            fn = torch.randn if op == "randn" else torch.rand
            values = fn(n, generator=g, dtype=torch.float32).numpy().astype("<f4")
            chunks.append(values)
            entry["calls"].append({"op": op, "count": n, "offset": offset})
            offset += n
        index.append(entry)
    np.concatenate(chunks).tofile(OUT / "torch_randn.bin")
    meta = {
        "made_by": "python tools/make_random_goldens.py",
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__,
                     "numpy": np.__version__},
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "total_floats": offset,
        "cases": index,
    }
    (OUT / "torch_randn.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(index)} cases, {offset} floats to {OUT}")


if __name__ == "__main__":
    main()
