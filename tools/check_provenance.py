#!/usr/bin/env python3
"""Checks, with Pillow, that skipstep's sample files carry their provenance.

Command (from the repository root, after `swift build`):
    python3 tools/check_provenance.py [--binary .build/debug/skipstep]
Made with: Python 3.11, Pillow 13.0.0 (refuses other versions unless --any-version).

Samples 3 images from the fixture model Tests/Fixtures/unet/one_channel_28 into a PNG folder, a
PNG grid, a .npy and a --format npz-uint8 .npz in a temporary directory, then reads the PNG
text chunks with PIL (`Image.open(path).text`) and the JSON sidecars with json, and checks every
field: skipstep_version (= `skipstep --version`), model, weights_file, weights_sha256 (= hashlib's
SHA-256 of the weights file), sampler, steps, seed, rng, sample_index / sample_indices. Also
checks that arr_0 of the .npz equals the PNGs' pixels (numpy). Exits 1 on any mismatch.
"""
import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

PILLOW = "13.0.0"
ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(ROOT / ".build/debug/skipstep"))
    parser.add_argument("--any-version", action="store_true")
    args = parser.parse_args()
    if PIL.__version__ != PILLOW and not args.any_version:
        sys.exit(f"Pillow {PIL.__version__}, expected {PILLOW} (or pass --any-version)")
    model = ROOT / "Tests/Fixtures/unet/one_channel_28"
    weights = model / "diffusion_pytorch_model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    version = subprocess.run([args.binary, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    expected = {"skipstep_version": version, "model": str(model), "weights_file": weights.name,
                "weights_sha256": digest, "sampler": "mix:cutoff=500", "steps": "4", "seed": "40", "rng": "philox"}
    failures = []

    def check(where, fields, extra):
        for key, value in {**expected, **extra}.items():
            if str(fields.get(key)) != value:
                failures.append(f"{where}: {key} = {fields.get(key)!r}, expected {value!r}")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        outs = {"pngs": tmp / "pngs", "grid": tmp / "grid.png", "npy": tmp / "s.npy", "npz": tmp / "s.npz"}
        for out in outs.values():
            subprocess.run([args.binary, "sample", "--model", str(model), "--sampler", "mix:cutoff=500", "--steps", "4",
                            "--count", "3", "--seed", "40", "--out", str(out)], check=True, capture_output=True)
        pixels = []
        for i in range(3):
            path = outs["pngs"] / f"sample_{i:05d}.png"
            with Image.open(path) as image:
                check(path.name, image.text, {"sample_index": str(i)})
                pixels.append(np.array(image))
        with Image.open(outs["grid"]) as image:
            check("grid.png", image.text, {"sample_indices": "0-2"})
        for name in ["npy", "npz"]:
            sidecar = Path(str(outs[name]) + ".json")
            check(sidecar.name, json.loads(sidecar.read_text()), {"sample_indices": "0-2"})
        arr = np.load(outs["npz"])["arr_0"]
        if arr.dtype != np.uint8 or arr.shape != (3, 28, 28, 1) or not np.array_equal(arr[..., 0], np.stack(pixels)):
            failures.append(f"s.npz: arr_0 {arr.dtype} {arr.shape} differs from the PNGs' pixels")
    for failure in failures:
        print(failure)
    print("provenance: " + ("FAILED" if failures else "all fields read back with Pillow " + PIL.__version__))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
