#!/usr/bin/env python3
"""Makes Tests/Fixtures/cleanfid: clean-fid's "clean" resize on a small image set, a JPEG with the
pixels Pillow decodes, and guided-diffusion's sample-batch .npz.

Command (from the repository root):
    pip install --no-deps --target /work/pylib-ecofid clean-fid==0.1.35
    PYTHONPATH=/work/pylib-ecofid python3 tools/make_cleanfid_fixtures.py
Made with: Python 3.11, numpy 2.4.6, Pillow 13.0.0, clean-fid 0.1.35 (torch 2.13.0+cpu only
because cleanfid/resize.py imports it). The script refuses other versions unless --any-version.
Deterministic (fixed seeds).

images/NAME.png    the inputs (grey 28x28, RGB 32x32, RGB 17x23, RGB 310x305: a downscale).
images/NAME.jpg    a 20x24 RGB JPEG (quality 90, 4:2:0) and a 16x12 grey one, written by Pillow.
resize.npz         for each PNG, key NAME: clean-fid's resized image (299x299x3 float32, HWC)
                   sampled at rows and columns 0, 5, ..., 295 (60x60x3; the full image would be
                   1 MB each), and NAME_sum: the float64 sum of the full 299x299x3 output.
                   The resize is `cleanfid.resize.build_resizer("clean")` applied to
                   `np.array(Image.open(path).convert("RGB"))`, exactly as clean-fid's
                   ResizeDataset reads a folder.
jpeg.npz           key NAME: the pixels Pillow decodes for images/NAME.jpg (HxWxC uint8).
arr0.npz           guided-diffusion's layout: np.savez(path, arr) of a 3x8x8x3 uint8 array, so
                   the key is arr_0 (image_sample.py writes its batches this way);
arr0_nchw.npy      the same images as float32 N x C x H x W in [-1, 1] (p / 127.5 - 1).
"""
import sys
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

VERSIONS = {"numpy": "2.4.6", "Pillow": "13.0.0", "clean-fid": "0.1.35"}
OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "cleanfid"
STRIDE = 5


def check_versions():
    import importlib.metadata as md
    found = {"numpy": np.__version__, "Pillow": PIL.__version__, "clean-fid": md.version("clean-fid")}
    if found != VERSIONS and "--any-version" not in sys.argv:
        sys.exit(f"versions {found}, expected {VERSIONS} (or pass --any-version)")


def main():
    check_versions()
    from cleanfid.resize import build_resizer

    rng = np.random.default_rng(20261203)
    (OUT / "images").mkdir(parents=True, exist_ok=True)

    def smooth(h, w, c, noise):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([127 + 120 * np.sin(x / (3 + k) + y / (5 + 2 * k)) for k in range(c)], axis=-1)
        return np.clip(base + rng.normal(0, noise, base.shape), 0, 255).round().astype(np.uint8)

    images = {
        "grey28": rng.integers(0, 256, (28, 28), dtype=np.uint8),
        "rgb32": rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
        "rgb17x23": smooth(17, 23, 3, 40),
        "rgb310x305": smooth(310, 305, 3, 4),
    }
    fn_resize = build_resizer("clean")
    resized = {}
    for name, pixels in images.items():
        path = OUT / "images" / f"{name}.png"
        Image.fromarray(pixels).save(path)
        img_np = np.array(Image.open(path).convert("RGB"))
        out = fn_resize(img_np)
        assert out.shape == (299, 299, 3) and out.dtype == np.float32
        resized[name] = np.ascontiguousarray(out[::STRIDE, ::STRIDE, :])
        resized[f"{name}_sum"] = np.array(out.astype(np.float64).sum())
    np.savez(OUT / "resize.npz", **resized)

    decoded = {}
    jpeg_rgb = smooth(20, 24, 3, 20)
    Image.fromarray(jpeg_rgb).save(OUT / "images" / "photo.jpg", quality=90, subsampling=2)
    Image.fromarray(smooth(16, 12, 1, 20)[:, :, 0]).save(OUT / "images" / "grey.jpg", quality=90)
    for name in ["photo", "grey"]:
        decoded[name] = np.array(Image.open(OUT / "images" / f"{name}.jpg"))
    np.savez(OUT / "jpeg.npz", **decoded)

    batch = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    np.savez(OUT / "arr0.npz", batch)
    np.save(OUT / "arr0_nchw.npy", (batch.transpose(0, 3, 1, 2).astype(np.float32) / np.float32(127.5) - 1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
