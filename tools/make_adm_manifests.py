#!/usr/bin/env python3
"""Key/shape manifests of the six released guided-diffusion (ADM) base checkpoints, in
Tests/Fixtures/adm/manifests/<preset>.json:

    python tools/make_adm_manifests.py            # (re)write the manifests
    python tools/make_adm_manifests.py --check    # regenerate in memory, compare with the files

For each preset of tools/convert_adm.py (imagenet64, imagenet128, imagenet256, imagenet256-uncond,
imagenet512, lsun256: the MODEL_FLAGS of guided-diffusion's README over model_and_diffusion_defaults()),
guided-diffusion's UNetModel is built by script_util.create_model on torch's meta device (shapes only,
no memory), and the manifest records:

    preset            the preset's name
    config            the adm_config.json convert_adm.py writes for those flags (source_sha256 null:
                      there is no checkpoint file)
    parameter_count   the number of weights (sum of the state_dict's numel; UNetModel has no buffers)
    keys              [[key, shape], ...] in state_dict order

Tests/ModelsTests/ADMManifestTests.swift compares ADMUNet's key/shape table for each config with it.

Setup (the versions that wrote the files; the script refuses others unless --allow-other-versions):
    Python 3.11.7, torch 2.13.0+cpu, guided-diffusion-sdk 1.0.0 (pip install --no-deps guided-diffusion-sdk==1.0.0)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_adm  # noqa: E402

VERSIONS = {"torch": "2.13.0+cpu", "guided_diffusion_sdk": "1.0.0"}
OUT = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "adm" / "manifests"


def check_versions(allow_other: bool) -> None:
    from importlib.metadata import version

    found = {"torch": torch.__version__, "guided_diffusion_sdk": version("guided-diffusion-sdk")}
    if found != VERSIONS and not allow_other:
        sys.exit(f"versions {found} differ from {VERSIONS}; pass --allow-other-versions to proceed anyway")


def manifest(preset: str) -> dict:
    flags = convert_adm.preset_flags(preset)
    with torch.device("meta"):
        model = convert_adm.create_unet(flags)
    state = model.state_dict()
    assert sum(1 for _ in model.buffers()) == 0, "UNetModel holds buffers"
    return {
        "preset": preset,
        "config": convert_adm.adm_config(flags, None),
        "parameter_count": sum(v.numel() for v in state.values()),
        "keys": [[k, list(v.shape)] for k, v in state.items()],
    }


def text(document: dict) -> str:
    # one key per line: small diffs when a manifest changes
    lines = [f"  {json.dumps(entry)}" for entry in document["keys"]]
    head = {k: v for k, v in document.items() if k != "keys"}
    body = json.dumps(head, indent=1, sort_keys=True)[:-2]
    return body + ',\n "keys": [\n' + ",\n".join(lines) + "\n ]\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--allow-other-versions", action="store_true")
    args = parser.parse_args()
    check_versions(args.allow_other_versions)
    OUT.mkdir(parents=True, exist_ok=True)
    differs = []
    for preset in sorted(convert_adm.PRESETS):
        document = manifest(preset)
        content = text(document)
        assert json.loads(content) == document
        path = OUT / f"{preset}.json"
        print(f"{preset}: {document['parameter_count']:,} parameters ({document['parameter_count'] / 1e6:.1f} M), "
              f"{len(document['keys'])} tensors")
        if args.check:
            if not path.exists() or path.read_text() != content:
                differs.append(path.name)
        else:
            path.write_text(content)
    if differs:
        sys.exit(f"differs: {differs}")


if __name__ == "__main__":
    main()
