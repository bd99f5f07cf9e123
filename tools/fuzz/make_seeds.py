"""Seed files for two libFuzzer harnesses of tools/fuzz/run.sh, written into Tests/Fixtures/fuzz/:
- gmm-file-seeds/: small skipstep-gmm safetensors files, one with the content_crc32 checksum
  GaussianMixture.save writes and two without (so mutations of the tensors reach the mixture's own
  checks instead of the checksum); standard library only.
- sweep-chunk-seeds/: a sweep chunk's samples as numpy.save writes them (chunk-0-3 of a 1 × 2 × 2
  model: float32 [3, 1, 2, 2]; also float64, a short chunk and a flat one).
    /work/venv-engine/bin/python tools/fuzz/make_seeds.py      # numpy 2.x for the .npy files"""
import json
import struct
import zlib
from pathlib import Path


def f64(values):
    return struct.pack("<%dd" % len(values), *values)


def write(path, metadata, weights, means, covariances, k, d, checksum):
    metadata = dict(metadata)
    if checksum:
        # GaussianMixture.contentChecksum: CRC-32 of the sorted "key=value\n" metadata lines and the
        # three tensors' little-endian F64 values, as 8 hex digits.
        lines = "".join(f"{key}={metadata[key]}\n" for key in sorted(metadata))
        crc = zlib.crc32(lines.encode() + f64(weights) + f64(means) + f64(covariances))
        metadata["content_crc32"] = "%08x" % crc
    header, blobs, offset = {"__metadata__": metadata}, b"", 0
    for name, values, shape in [("weights", weights, [k]), ("means", means, [k, d]), ("covariances", covariances, [k, d, d])]:
        blob = f64(values)
        header[name] = {"dtype": "F64", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs += blob
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    Path(path).write_bytes(struct.pack("<Q", len(text)) + text + blobs)


def main():
    root = Path(__file__).resolve().parents[2] / "Tests/Fixtures/fuzz"
    out = root / "gmm-file-seeds"
    out.mkdir(parents=True, exist_ok=True)
    base = {"format": "skipstep-gmm", "version": "1"}
    write(out / "checksummed.safetensors", {**base, "sample_shape": "2", "components": "2", "dimension": "2"},
          [0.5, 0.5], [0, 0, 1, 1], [1, 0, 0, 1, 2, 0.5, 0.5, 2], 2, 2, checksum=True)
    write(out / "plain.safetensors", {**base, "sample_shape": "2"},
          [0.25, 0.75], [0, 0, -1, 3], [1, 0.2, 0.2, 1, 0.5, 0, 0, 0.5], 2, 2, checksum=False)
    write(out / "one-by-three.safetensors", {**base, "sample_shape": "1,3", "dimension": "3"},
          [1.0], [0.1, 0.2, 0.3], [2, 0, 0, 0, 2, 0, 0, 0, 2], 1, 3, checksum=False)

    import numpy as np
    chunks = root / "sweep-chunk-seeds"
    chunks.mkdir(parents=True, exist_ok=True)
    values = np.linspace(-1, 1, 12).reshape(3, 1, 2, 2)
    np.save(chunks / "float32.npy", values.astype("<f4"))
    np.save(chunks / "float64.npy", values.astype("<f8"))
    np.save(chunks / "short.npy", values[:2].astype("<f4"))
    np.save(chunks / "flat.npy", values.reshape(3, 4).astype("<f4"))


if __name__ == "__main__":
    main()
