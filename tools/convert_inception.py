#!/usr/bin/env python3
"""Convert pytorch-fid's FID Inception weights (.pth) to the safetensors file skipstep reads
(Sources/Models/FIDInception.swift; `skipstep eval --network inception`).

Get the weights (95 MB; pytorch-fid downloads the same file on first use):
    https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth

Command (from the repository root):
    python3 tools/convert_inception.py pt_inception-2015-12-05-6726825d.pth
        [--out PATH]   default: $SKIPSTEP_CACHE_DIR, else $XDG_CACHE_HOME/skipstep, else
                       ~/.cache/skipstep, + /pt_inception-2015-12-05-6726825d.safetensors
                       (where skipstep looks when neither --weights nor $SKIPSTEP_INCEPTION_WEIGHTS is set)
        [--force]      replace an existing output file (refused otherwise)

What it does: loads the state dict (torch.load(weights_only=True)), checks it by loading it
strictly into pytorch-fid's own fid_inception_v3() structure (its download replaced by this file),
and writes every tensor of that model's state dict except the BatchNorm `num_batches_tracked`
counters, under the same names, as contiguous float32, with metadata
{"format": "skipstep-fid-inception-1", "source": file name, "source_sha256": ...}.
Nothing is folded: BatchNorm weight / bias / running_mean / running_var stay raw and the Swift
loader folds them into the convolutions (eps 0.001) at load. `fc.weight` [1008, 2048] and
`fc.bias` are kept, so skipstep also gives the 1008 logits for the Inception Score. The file is
written atomically (a temporary file in the output's directory, then os.replace).

Made and tested with Python 3.11.7, torch 2.13.0+cpu, torchvision 0.28.0+cu130 (PyPI wheel; its C
extension does not load here, so torchvision._meta_registrations is stubbed before the import),
pytorch-fid 0.3.0, safetensors 0.8.0, numpy 2.4.6. No network access is needed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import types

sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))

import torch  # noqa: E402
import pytorch_fid.inception as fid_inception  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

FORMAT = "skipstep-fid-inception-1"
DEFAULT_NAME = "pt_inception-2015-12-05-6726825d.safetensors"


def default_output():
    cache = os.environ.get("SKIPSTEP_CACHE_DIR")
    if not cache:
        xdg = os.environ.get("XDG_CACHE_HOME")
        cache = os.path.join(xdg, "skipstep") if xdg else os.path.join(os.path.expanduser("~"), ".cache", "skipstep")
    return os.path.join(cache, DEFAULT_NAME)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def convert(pth, out, force=False):
    """Checks `pth` against pytorch-fid's FID Inception and writes `out`; returns the tensor dict."""
    if os.path.exists(out) and not force:
        raise SystemExit(f"{out} exists; pass --force to replace it")
    state = torch.load(pth, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise SystemExit(f"{pth}: expected a state dict, got {type(state).__name__}")
    original = fid_inception.load_state_dict_from_url
    fid_inception.load_state_dict_from_url = lambda url, progress=True: state
    try:
        model = fid_inception.fid_inception_v3()  # load_state_dict(strict=True) inside: names and shapes
    except RuntimeError as error:
        raise SystemExit(f"{pth} is not pytorch-fid's FID Inception state dict:\n{error}")
    finally:
        fid_inception.load_state_dict_from_url = original
    tensors = {name: value.detach().to(torch.float32).contiguous()
               for name, value in model.state_dict().items() if not name.endswith("num_batches_tracked")}
    bad = [name for name, value in tensors.items() if not torch.isfinite(value).all()]
    if bad:
        raise SystemExit(f"{pth}: non-finite values in {', '.join(bad[:5])}")
    metadata = {"format": FORMAT, "source": os.path.basename(pth), "source_sha256": sha256(pth),
                "batchnorm": "raw (not folded), eps 0.001"}
    directory = os.path.dirname(os.path.abspath(out))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out) + ".", suffix=".tmp", dir=directory)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        if os.path.exists(out) and not force:  # created meanwhile
            raise SystemExit(f"{out} exists; pass --force to replace it")
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return tensors


def main():
    parser = argparse.ArgumentParser(description="Convert pytorch-fid's pt_inception-2015-12-05-6726825d.pth "
                                                 "to safetensors for skipstep.")
    parser.add_argument("pth", help="pt_inception-2015-12-05-6726825d.pth")
    parser.add_argument("--out", default=None, help=f"output file (default: {default_output()})")
    parser.add_argument("--force", action="store_true", help="replace an existing output file")
    args = parser.parse_args()
    out = args.out or default_output()
    tensors = convert(args.pth, out, force=args.force)
    count = sum(t.numel() for t in tensors.values())
    print(f"wrote {out}: {len(tensors)} tensors, {count} values (BatchNorm raw, fc kept)")


if __name__ == "__main__":
    main()
