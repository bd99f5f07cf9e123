#!/usr/bin/env python3
"""Checks tools/check_adm_checkpoint.py end to end (Python only, not part of `swift test`; about a
minute with a debug build):

    /work/venv-engine/bin/python tools/test_check_adm_checkpoint.py [--skipstep PATH]

Small random-weight checkpoints (every parameter re-initialised by tools/make_adm_fixtures.py's
hashed rule, since a fresh UNetModel outputs exactly 0) saved as .pt state_dicts:
  - legacy qkv order, 4 heads, resblock_updown, class-conditional (1000 classes), learn_sigma,
    linear schedule: the check passes (forward <= 1e-4, 10-step loop <= 1e-3);
  - new qkv order, 16 channels per head, unconditional, cosine schedule: passes;
  - the first checkpoint checked through a stand-in skipstep that sets use_new_attention_order in
    the converted folder's adm_config.json before running (a skipstep that wires the attention
    wrongly): the check must fail, exit status 1. (Wrong flags given to the checker itself are not
    caught: guided-diffusion is built from the same flags; convert_adm.py names what it can, shapes.)
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import convert_adm  # noqa: E402
from make_adm_fixtures import reinitialise  # noqa: E402

TOOL = Path(__file__).resolve().parent / "check_adm_checkpoint.py"
LEGACY = ["--image_size", "32", "--num_channels", "32", "--num_res_blocks", "1", "--channel_mult", "1,2,2",
          "--attention_resolutions", "16,8", "--num_heads", "4", "--class_cond", "True", "--learn_sigma", "True",
          "--resblock_updown", "True", "--use_scale_shift_norm", "True"]
NEW_ORDER = ["--image_size", "32", "--num_channels", "32", "--num_res_blocks", "2", "--channel_mult", "1,2",
             "--attention_resolutions", "16", "--num_head_channels", "16", "--use_new_attention_order", "True",
             "--class_cond", "False", "--learn_sigma", "True", "--noise_schedule", "cosine"]


def checkpoint(flags: list[str], path: Path) -> None:
    _, parsed = convert_adm.parse(["unused.pt", "--out", "unused", *flags])
    model = convert_adm.create_unet(parsed)
    reinitialise(model)
    torch.save(model.state_dict(), path)


def check(pt: Path, flags: list[str], extra: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(TOOL), str(pt), *flags, *extra], capture_output=True, text=True)
    print(f"$ check_adm_checkpoint.py {pt.name} {' '.join(flags)}\n{result.stdout.strip()}")
    return result


def main() -> None:
    extra = sys.argv[1:]
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        legacy, new_order = tmp / "legacy.pt", tmp / "new_order.pt"
        checkpoint(LEGACY, legacy)
        checkpoint(NEW_ORDER, new_order)
        for pt, flags in [(legacy, LEGACY + ["--class", "7"]), (new_order, NEW_ORDER + ["--count", "2", "--seed", "3"])]:
            result = check(pt, flags, extra)
            assert result.returncode == 0, result.stderr
            assert result.stdout.count("PASS") == 2, result.stdout
        real = extra[extra.index("--skipstep") + 1] if "--skipstep" in extra else None
        if real is None:
            import check_adm_checkpoint
            real = check_adm_checkpoint.find_skipstep(None)
        wrong = tmp / "skipstep-wrong-order"
        wrong.write_text(f"""#!{sys.executable}
import json, os, sys
args = sys.argv[1:]
config = os.path.join(args[args.index("--model") + 1], "adm_config.json")
flags = json.load(open(config))
flags["use_new_attention_order"] = True  # the legacy checkpoint needs False
json.dump(flags, open(config, "w"))
os.execv({str(Path(real).resolve())!r}, [{str(real)!r}] + args)
""")
        wrong.chmod(0o755)
        rest = [a for i, a in enumerate(extra) if a != "--skipstep" and (i == 0 or extra[i - 1] != "--skipstep")]
        result = check(legacy, LEGACY + ["--class", "7"], rest + ["--skipstep", str(wrong)])
        assert result.returncode == 1, f"a wrongly wired skipstep passed: {result.stdout} {result.stderr}"
        assert result.stdout.count("FAIL") == 2, result.stdout
    print("ok")


if __name__ == "__main__":
    main()
