#!/usr/bin/env python3
"""Convert an OpenAI guided-diffusion (ADM) checkpoint (.pt) into a folder skipstep loads:

    python tools/convert_adm.py MODEL.pt --out DIR [--preset NAME] [FLAGS]
    skipstep sample --model DIR --class 207 --sampler ddpm --steps 25 --out samples.png

DIR receives model.safetensors (guided-diffusion's own keys, F32) and adm_config.json (the
create_model_and_diffusion flags with channel_mult resolved, num_classes, clip_denoised: true as the
sampling scripts default, and the source's sha256). FLAGS are guided-diffusion's own, spelled as its
README's MODEL_FLAGS (`--attention_resolutions 32,16,8 --class_cond True ...`), so they can be pasted
unchanged; every key of model_and_diffusion_defaults() is accepted, absent ones take its defaults
(as the scripts do), and a preset supplies the README's flags of a released checkpoint (flags given
after it override it).

Setup (versions this was written against):
    pip install torch==2.13.0+cpu --index-url https://download.pytorch.org/whl/cpu
    pip install --no-deps guided-diffusion-sdk==1.0.0   # openai/guided-diffusion @22e0df8 on PyPI
    pip install safetensors numpy

Safety: nothing in the file is executed before it is checked.
  1. The file must be a torch zip archive (not a legacy/tar file, not TorchScript) whose data.pkl,
     scanned statically with pickletools.genops, uses only the opcodes of a protocol-2 state_dict
     and only the GLOBALs collections.OrderedDict, torch._utils._rebuild_tensor_v2,
     torch._utils._rebuild_parameter and torch.{Float,Half,BFloat16}Storage.
  2. Then torch.load(weights_only=True) (torch >= 2.6, GHSA-53q9-r3pm-6pq6) loads it, and every value
     must be a tensor (shared storages with offsets are fine: fp16-trained files hold views into flat
     master buffers).
  3. Keys and shapes must equal those of guided-diffusion's UNetModel built from the flags; a
     mismatch is named (wrong flags usually show as a shape mismatch).
Any refusal is one line on stderr, exit status 1, and nothing is written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickletools
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ALLOWED_OPCODES = {
    "PROTO", "GLOBAL", "BINPUT", "LONG_BINPUT", "BINGET", "LONG_BINGET", "MARK", "EMPTY_TUPLE", "EMPTY_DICT",
    "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3", "BININT", "BININT1", "BININT2", "LONG1", "BINUNICODE", "NEWTRUE",
    "NEWFALSE", "NONE", "REDUCE", "BINPERSID", "SETITEM", "SETITEMS", "BUILD", "STOP",
}
ALLOWED_GLOBALS = {
    "collections OrderedDict", "torch._utils _rebuild_tensor_v2", "torch._utils _rebuild_parameter",
    "torch FloatStorage", "torch HalfStorage", "torch BFloat16Storage",
}

# guided-diffusion README, "Download pre-trained models" / sampling commands.
_COMMON = dict(attention_resolutions="32,16,8", diffusion_steps=1000, learn_sigma=True, noise_schedule="linear",
               num_channels=256, num_res_blocks=2, resblock_updown=True, use_fp16=True, use_scale_shift_norm=True)
PRESETS = {
    "imagenet64": dict(_COMMON, class_cond=True, dropout=0.1, image_size=64, noise_schedule="cosine", num_channels=192,
                       num_head_channels=64, num_res_blocks=3, use_new_attention_order=True),
    "imagenet128": dict(_COMMON, class_cond=True, image_size=128, num_heads=4),
    "imagenet256": dict(_COMMON, class_cond=True, image_size=256, num_head_channels=64),
    "imagenet256-uncond": dict(_COMMON, class_cond=False, image_size=256, num_head_channels=64),
    "imagenet512": dict(_COMMON, class_cond=True, image_size=512, num_head_channels=64, use_fp16=False),
    "lsun256": dict(_COMMON, class_cond=False, dropout=0.1, image_size=256, num_head_channels=64),
}


class Refusal(Exception):
    pass


def str2bool(v: str) -> bool:
    # guided-diffusion script_util.str2bool
    if v.lower() in ("yes", "true", "t", "y", "1"):
        return True
    if v.lower() in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"boolean value expected, got {v!r}")


def scan_pickle(path: Path) -> None:
    """Step 1: the archive's layout and data.pkl's opcodes and GLOBALs."""
    if not zipfile.is_zipfile(path):
        raise Refusal(f"{path}: not a torch zip archive (a legacy or tar checkpoint, or not a checkpoint); "
                      "re-save it with torch >= 1.6 torch.save(state_dict)")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
            raise Refusal(f"{path}: a TorchScript archive, not a state_dict")
        pickles = [n for n in names if n.endswith(".pkl")]
        if len(pickles) != 1 or not pickles[0].endswith("data.pkl"):
            raise Refusal(f"{path}: expected exactly one data.pkl, found {pickles}")
        data = archive.read(pickles[0])
    for opcode, arg, _ in pickletools.genops(data):
        if opcode.name not in ALLOWED_OPCODES:
            raise Refusal(f"{path}: data.pkl uses the pickle opcode {opcode.name}, which a state_dict does not")
        if opcode.name == "GLOBAL" and arg not in ALLOWED_GLOBALS:
            raise Refusal(f"{path}: data.pkl references the global {arg.replace(' ', '.')}, which a state_dict does not")


def parse(argv: list[str]):
    from guided_diffusion.script_util import model_and_diffusion_defaults

    defaults = model_and_diffusion_defaults()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS))
    for key, value in defaults.items():
        kind = str2bool if isinstance(value, bool) else type(value)
        parser.add_argument(f"--{key}", type=kind, default=None)
    args = parser.parse_args(argv)
    flags = preset_flags(args.preset)
    flags.update({k: v for k, v in vars(args).items() if k in defaults and v is not None})
    return args, flags


def preset_flags(preset: str | None) -> dict:
    """model_and_diffusion_defaults() with a preset's README flags over them (as the scripts parse them)."""
    from guided_diffusion.script_util import model_and_diffusion_defaults

    flags = model_and_diffusion_defaults()
    if preset:
        flags.update(PRESETS[preset])
    return flags


def resolved_channel_mult(flags: dict) -> list[float]:
    # script_util.create_model's defaults by image size
    if flags["channel_mult"]:
        return [float(m) for m in flags["channel_mult"].split(",")]
    table = {512: (0.5, 1, 1, 2, 2, 4, 4), 256: (1, 1, 2, 2, 4, 4), 128: (1, 1, 2, 3, 4), 64: (1, 2, 3, 4)}
    if flags["image_size"] not in table:
        raise Refusal(f"unsupported image size {flags['image_size']} without --channel_mult")
    return [float(m) for m in table[flags["image_size"]]]


def create_unet(flags: dict):
    """guided-diffusion's UNetModel as script_util.create_model builds it from the flags (on the current
    torch device: under `with torch.device("meta")` no memory is allocated)."""
    from guided_diffusion.script_util import create_model, model_and_diffusion_defaults

    model_keys = {k for k in model_and_diffusion_defaults() if k in create_model.__code__.co_varnames}
    return create_model(**{k: flags[k] for k in model_keys})


def adm_config(flags: dict, digest: str | None) -> dict:
    """The adm_config.json written for the flags: every create_model_and_diffusion flag skipstep reads,
    channel_mult resolved, num_classes, clip_denoised (the sampling scripts' default) and the source's sha256."""
    config = {k: flags[k] for k in sorted(flags) if k not in ("channel_mult", "use_checkpoint", "use_kl",
                                                               "rescale_learned_sigmas")}
    config.update(channel_mult=resolved_channel_mult(flags), num_classes=1000 if flags["class_cond"] else None,
                  clip_denoised=True, source_sha256=digest)
    return config


def convert(args, flags: dict) -> None:
    import torch
    from safetensors.torch import save_file

    scan_pickle(args.checkpoint)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise Refusal(f"{args.checkpoint}: holds a {type(state).__name__}, not a state_dict")
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise Refusal(f"{args.checkpoint}: entry {key!r} is a {type(value).__name__}, not a tensor")

    expected = create_unet(flags).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise Refusal(f"{args.checkpoint}: keys do not match the flags' UNetModel: missing {missing[:3]}, "
                      f"unexpected {unexpected[:3]} ({len(missing)} / {len(unexpected)})")
    for key, tensor in expected.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise Refusal(f"{args.checkpoint}: {key} has shape {tuple(state[key].shape)}, the flags' UNetModel "
                          f"needs {tuple(tensor.shape)}; check the flags (or --preset)")

    digest = hashlib.sha256(args.checkpoint.read_bytes()).hexdigest()
    config = adm_config(flags, digest)
    tensors = {k: v.detach().to(torch.float32).contiguous().clone() for k, v in state.items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert_adm-", dir=args.out.parent))
    try:
        save_file(tensors, str(staging / "model.safetensors"))
        (staging / "adm_config.json").write_text(json.dumps(config, indent=1, sort_keys=True) + "\n")
        if args.out.exists():
            if any(args.out.iterdir()):
                raise Refusal(f"{args.out} exists and is not empty")
            args.out.rmdir()
        os.replace(staging, args.out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"wrote {args.out}: {sum(v.numel() for v in tensors.values())} parameters, sha256 {digest[:12]}")


def main(argv: list[str] | None = None) -> int:
    args, flags = parse(sys.argv[1:] if argv is None else argv)
    try:
        convert(args, flags)
    except Refusal as refusal:
        print(f"convert_adm: refused: {refusal}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
