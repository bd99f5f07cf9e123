#!/usr/bin/env python3
"""Makes the fixtures of Tests/MediaTests under Tests/Fixtures/media.

Command (from the repository root):   python3 tools/make_media_fixtures.py
Made with: Python 3.11.7, numpy 2.4.6, Pillow 13.0.0 (zlib 1.2.13), torch 2.13.0+cpu,
diffusers 0.42.1. The script checks these versions and refuses to run with others unless
--any-version is given. The output is deterministic (fixed seeds, gzip mtime 0).

npy/      files written by numpy's own writer (np.save / np.lib.format.write_array): float32 in
          versions 1.0, 2.0, 3.0, float64, a 0-d and an empty array, and files the reader must
          refuse (Fortran order, big-endian, int32). The test also checks that Swift's writer
          reproduces np.save's bytes exactly for f4_v1, specials_1d, scalar and empty.
png/      PNGs written by Pillow (gray, RGB, gray+alpha, RGBA; Pillow picks a filter per row
          adaptively), PNGs written here with numpy + zlib cycling filter types 0-4 row by row,
          and unsupported ones (palette, 16-bit, interlaced). Each readable PNG has a .u8 file
          beside it: the pixels it must decode to, HWC, alpha dropped.
model_space/  input.npy (3×5×7 float32 in and beyond [-1, 1], ties included) and expected.u8,
          the pixels of diffusers' DDPMPipeline path: torch (image / 2 + 0.5).clamp(0, 1),
          permute to HWC, numpy, then diffusers.utils.pil_utils.numpy_to_pil.
idx/      small IDX files, plain and gzip, a truncated gzip one and a float32 one.
"""
import gzip
import io
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import PIL
from PIL import Image
import torch
import diffusers
from diffusers.utils.pil_utils import numpy_to_pil

VERSIONS = {"numpy": "2.4.6", "Pillow": "13.0.0", "torch": "2.13.0+cpu", "diffusers": "0.42.1"}
OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "media"


def check_versions():
    found = {"numpy": np.__version__, "Pillow": PIL.__version__, "torch": torch.__version__,
             "diffusers": diffusers.__version__}
    if found != VERSIONS and "--any-version" not in sys.argv:
        sys.exit(f"expected {VERSIONS}, found {found}; pass --any-version to go on")


def write(relative, data):
    path = OUT / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def npy_bytes(array, version=None):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=version, allow_pickle=False)
    return buffer.getvalue()


def make_npy():
    arange = (np.arange(24, dtype=np.float32) - 11.5) / 7  # float32 arithmetic, as in the Swift test
    write("npy/f4_v1.npy", npy_bytes(arange.reshape(2, 3, 4)))  # what np.save writes
    write("npy/f4_v3.npy", npy_bytes(arange.reshape(4, 6), version=(3, 0)))
    f8 = np.array([[-1.0, -0.25, 0.0, 0.1, 1e-3], [2.5, 1e10, -3.0e-8, 123456.789, 1.0 / 3.0]])
    write("npy/f8_v2.npy", npy_bytes(f8, version=(2, 0)))
    specials = np.array([0.0, -0.0, 1e-45, 3.4028235e38, -np.inf, np.inf], dtype=np.float32)
    write("npy/specials_1d.npy", npy_bytes(specials))
    write("npy/scalar.npy", npy_bytes(np.array(2.5, dtype=np.float32)))
    write("npy/empty.npy", npy_bytes(np.zeros((0, 3), dtype=np.float32)))
    write("npy/fortran.npy", npy_bytes(np.asfortranarray(arange.reshape(4, 6))))
    write("npy/big_endian.npy", npy_bytes(arange.astype(">f4")))
    write("npy/int32.npy", npy_bytes(np.arange(6, dtype=np.int32)))


def test_image(height, width, channels, seed):
    """Smooth gradients plus a noisy band, so that adaptive filtering uses several filter types."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    planes = [(x * 255 // max(width - 1, 1) + c * 40) % 256 if c % 2 == 0 else (y * 7 + x * 3 + c * 11) % 256
              for c in range(channels)]
    image = np.stack(planes, axis=-1).astype(np.uint8)
    image[height // 3: height // 2] = rng.integers(0, 256, size=image[height // 3: height // 2].shape, dtype=np.uint8)
    return image


def png_filters(path):
    """The filter type of each row of a non-interlaced 8-bit PNG."""
    data = path.read_bytes()
    offset, idat, header = 8, b"", None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    width, height, _, colour, *_ = header
    bpp = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(idat)
    return [raw[row * (width * bpp + 1)] for row in range(height)]


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_with_filters(image, interlace=0):
    """An 8-bit PNG whose row r uses filter type r % 5 (PNG spec §9.2 forward filters)."""
    height, width, channels = image.shape
    colour = {1: 0, 3: 2, 2: 4, 4: 6}[channels]
    bpp = channels
    rows = image.reshape(height, width * channels).astype(np.int32)
    raw = bytearray()
    for r in range(height):
        line = rows[r]
        up = rows[r - 1] if r > 0 else np.zeros_like(line)
        left = np.concatenate([np.zeros(bpp, np.int32), line[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, np.int32), up[:-bpp]])
        kind = r % 5
        if kind == 0:
            predictor = np.zeros_like(line)
        elif kind == 1:
            predictor = left
        elif kind == 2:
            predictor = up
        elif kind == 3:
            predictor = (left + up) // 2
        else:
            p = left + up - up_left
            pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
            predictor = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
        raw.append(kind)
        raw += ((line - predictor) % 256).astype(np.uint8).tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(raw), 9))
            + chunk(b"IEND", b""))


def without_alpha(image):
    return image[..., :-1] if image.shape[-1] in (2, 4) else image


def make_png():
    modes = {"gray": ("L", 1), "rgb": ("RGB", 3), "la": ("LA", 2), "rgba": ("RGBA", 4)}
    for seed, (name, (mode, channels)) in enumerate(modes.items()):
        image = test_image(23, 37, channels, seed)
        pil = Image.fromarray(image[..., 0] if channels == 1 else image, mode=mode)
        buffer = io.BytesIO()
        pil.save(buffer, format="PNG")
        write(f"png/pillow_{name}.png", buffer.getvalue())
        write(f"png/pillow_{name}.u8", without_alpha(image).tobytes())
        print(f"png/pillow_{name}.png row filters used:", sorted(set(png_filters(OUT / f'png/pillow_{name}.png'))))
    for seed, (name, channels) in enumerate([("gray", 1), ("rgb", 3), ("la", 2), ("rgba", 4)]):
        image = test_image(11, 9, channels, 10 + seed)
        write(f"png/filters_{name}.png", png_with_filters(image))
        write(f"png/filters_{name}.u8", without_alpha(image).tobytes())
        assert sorted(set(png_filters(OUT / f"png/filters_{name}.png"))) == [0, 1, 2, 3, 4]
        decoded = np.asarray(Image.open(OUT / f"png/filters_{name}.png"))
        assert np.array_equal(decoded.reshape(image.shape), image), name  # Pillow agrees
    buffer = io.BytesIO()
    Image.fromarray(test_image(8, 8, 1, 20)[..., 0], mode="L").convert("P").save(buffer, format="PNG")
    write("png/palette.png", buffer.getvalue())
    buffer = io.BytesIO()
    Image.fromarray((test_image(8, 8, 1, 21)[..., 0].astype(np.uint16) * 257)).save(buffer, format="PNG")
    write("png/gray16.png", buffer.getvalue())
    write("png/interlaced.png", png_with_filters(test_image(8, 8, 3, 22), interlace=1))


def make_model_space():
    rng = np.random.default_rng(7)
    x = rng.uniform(-1.2, 1.2, size=3 * 5 * 7).astype(np.float32)
    # Values whose float32 path lands exactly on k + 0.5, where ties-to-even and half-up differ.
    ties = []
    for k in range(0, 255, 2):
        v = np.float32((k + 0.5) / 255)
        for candidate in [v, np.nextafter(v, np.float32(0)), np.nextafter(v, np.float32(1))]:
            xv = (candidate - np.float32(0.5)) * np.float32(2)
            if (xv / np.float32(2) + np.float32(0.5)) * np.float32(255) == np.float32(k + 0.5):
                ties.append(xv)
                break
    specials = [-1.0, 1.0, 0.0, -0.0, -5.0, 5.0, 1e-8, -1e-8]
    fill = specials + ties[:20]
    x[:len(fill)] = fill
    image = torch.from_numpy(x.reshape(1, 3, 5, 7))
    image = (image / 2 + 0.5).clamp(0, 1)  # diffusers DDPMPipeline.__call__
    image = image.cpu().permute(0, 2, 3, 1).numpy()
    expected = np.asarray(numpy_to_pil(image)[0])  # diffusers.utils.pil_utils.numpy_to_pil
    write("model_space/input.npy", npy_bytes(x.reshape(3, 5, 7)))
    write("model_space/expected.u8", expected.tobytes())
    print(f"model_space: {len(ties)} float32 ties found, {min(len(ties), 20)} used")


def idx_bytes(array, type_code=0x08):
    return bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def make_idx():
    small = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    plain = idx_bytes(small)
    write("idx/small.idx", plain)
    compressed = gzip.compress(plain, mtime=0)
    write("idx/small.idx.gz", compressed)
    write("idx/truncated.idx.gz", compressed[: len(compressed) - 12])  # cut inside the deflate stream
    write("idx/float.idx", idx_bytes(np.zeros((2, 2), dtype=">f4"), type_code=0x0D))


if __name__ == "__main__":
    check_versions()
    make_npy()
    make_png()
    make_model_space()
    make_idx()
    print("wrote", OUT)
