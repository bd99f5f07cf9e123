#!/usr/bin/env python3
"""Checks tools/convert_adm.py (Python only, not part of `swift test`; a few seconds):

    /work/venv-engine/bin/python tools/test_convert_adm.py [--keep DIR]

A small UNetModel's state_dict converts (keys, F32 values and config as expected); the converter
refuses, writing nothing: an os.system GLOBAL, a pickled UNetModel, a TorchScript archive, a dict of
non-tensors, a legacy (non-zip) file and wrong flags (the shape mismatch named).
"""

import io
import json
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch
from guided_diffusion.script_util import create_model
from safetensors.torch import load_file

TOOL = Path(__file__).resolve().parent / "convert_adm.py"
FLAGS = ["--image_size", "32", "--num_channels", "32", "--num_res_blocks", "1", "--channel_mult", "1,2",
         "--attention_resolutions", "16", "--class_cond", "True", "--learn_sigma", "True", "--num_head_channels", "16"]


def convert(pt: Path, out: Path, flags=FLAGS):
    return subprocess.run([sys.executable, str(TOOL), str(pt), "--out", str(out), *flags],
                          capture_output=True, text=True)


def refused(tmp: Path, name: str, pt: Path, needle: str, flags=FLAGS) -> None:
    out = tmp / f"out-{name}"
    result = convert(pt, out, flags)
    assert result.returncode == 1, f"{name}: exit {result.returncode}: {result.stderr}"
    assert needle in result.stderr, f"{name}: {result.stderr}"
    assert not out.exists(), f"{name}: wrote {out}"
    print(f"refused {name}: {result.stderr.strip().splitlines()[-1]}")


def main() -> None:
    torch.manual_seed(0)
    model = create_model(image_size=32, num_channels=32, num_res_blocks=1, channel_mult="1,2",
                         attention_resolutions="16", class_cond=True, learn_sigma=True, num_head_channels=16,
                         use_scale_shift_norm=True)  # model_and_diffusion_defaults' value
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        good = tmp / "model.pt"
        torch.save(model.state_dict(), good)
        out = tmp / "converted"
        result = convert(good, out)
        assert result.returncode == 0, result.stderr
        tensors = load_file(str(out / "model.safetensors"))
        config = json.loads((out / "adm_config.json").read_text())
        assert set(tensors) == set(model.state_dict()) and all(v.dtype == torch.float32 for v in tensors.values())
        assert all(torch.equal(tensors[k], v) for k, v in model.state_dict().items())
        assert config["channel_mult"] == [1.0, 2.0] and config["num_classes"] == 1000 and config["clip_denoised"]
        print(f"converted: {len(tensors)} tensors, {config['source_sha256'][:12]}")
        if "--keep" in sys.argv:
            import shutil
            shutil.copytree(out, sys.argv[sys.argv.index("--keep") + 1], dirs_exist_ok=True)

        class Evil:
            def __reduce__(self):
                import os
                return (os.system, ("echo pwned",))
        evil = tmp / "evil.pt"
        torch.save({"x": Evil()}, evil)
        refused(tmp, "os.system", evil, "posix.system")

        module = tmp / "module.pt"
        torch.save(model, module)
        refused(tmp, "pickled UNetModel", module, "guided_diffusion.unet.UNetModel")

        script = tmp / "script.pt"
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), script)
        refused(tmp, "TorchScript", script, "TorchScript")

        numbers = tmp / "numbers.pt"
        torch.save({"a": 1, "b": "two"}, numbers)
        refused(tmp, "non-tensors", numbers, "not a tensor")

        legacy = tmp / "legacy.pt"
        torch.save(model.state_dict(), legacy, _use_new_zipfile_serialization=False)
        refused(tmp, "legacy file", legacy, "not a torch zip archive")

        wrong = list(FLAGS)
        wrong[FLAGS.index("--num_channels") + 1] = "64"
        refused(tmp, "wrong flags", good, "has shape", wrong)
    print("ok")


if __name__ == "__main__":
    main()
