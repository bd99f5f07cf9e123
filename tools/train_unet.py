#!/usr/bin/env python3
"""Train skipstep's default diffusion network: a small diffusers UNet2DModel on Fashion-MNIST with the
plain DDPM objective (Ho et al. 2020), resumable bit for bit across sessions.

Versions (pinned; the script warns on others): Python 3.11.7, torch 2.13.0+cpu, diffusers 0.42.1,
numpy 2.4.6, safetensors 0.8.0. Data: Debian package dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist/*.gz; `apt-get install -y dataset-fashion-mnist`).

Commands (from the repository root):

    # fresh run (refuses an existing checkpoint / log / output folder unless --force)
    python3 tools/train_unet.py --checkpoint runs/unet/ckpt.pt --log runs/unet/train.csv \\
        --out models/fashion-ddpm-28 --max-steps 5600 --max-minutes 100

    # resume (same command plus --resume; continues bit-identically; writes back to the same checkpoint,
    # truncates the CSV to the checkpoint's step and appends; --max-steps is the TOTAL step count)
    python3 tools/train_unet.py --resume runs/unet/ckpt.pt --log runs/unet/train.csv \\
        --out models/fashion-ddpm-28 --max-steps 5600 --max-minutes 100

    # export the EMA weights of any checkpoint as a diffusers pipeline folder, without training
    python3 tools/train_unet.py --export-only runs/unet/ckpt.pt --out models/fashion-ddpm-28 [--force]

    # self-test of exact resumption: 20 steps straight vs 10 + resume + 10, in temporary folders,
    # compares every step's loss and the final model / EMA / optimizer tensors for bit equality
    python3 tools/train_unet.py --verify-resume            # real settings, ~3.5 min on 2 loaded cores
    python3 tools/train_unet.py --verify-resume --batch-size 32 --limit-images 320 --verify-steps 25
                                                            # ~2 min; resumes mid-epoch, crosses 2 epochs

The run stops at --max-steps (total optimizer steps, counted across resumes) or after --max-minutes of
wall clock in this process, or on SIGTERM / SIGINT (the current step finishes first); in every case it
writes the checkpoint. The diffusers folder is exported only when --max-steps is reached (and --out
was given), or explicitly with --export-only. Exit status: 0 when finished or stopped by the time
limit, 128 + signal number when stopped by a signal (the checkpoint is written either way).

Objective (exactly the paper's): T = 1000, betas linear from 1e-4 to 0.02 (diffusers DDPMScheduler
defaults), x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps computed by DDPMScheduler.add_noise (float32
alphas_cumprod), t uniform on {0, ..., 999}, eps ~ N(0, I), the network predicts eps, loss =
mean squared error over all pixels of the batch ("L_simple"). The exported scheduler is
DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear", variance_type="fixed_small",
clip_sample=False).

Data: the 60 000 training images of Fashion-MNIST (labels unused), uint8 -> x / 127.5 - 1, shape
1 x 28 x 28, no padding (28 -> 14 -> 7 in the UNet), no augmentation (no random flips). Each epoch
visits a fresh permutation numpy.random.default_rng([seed, epoch]).permutation(60000) in batches
of 128; the last 96 images of each permutation (60000 = 468 x 128 + 96) are dropped, so an epoch is
468 steps and every batch has the same size.

Model (1 112 801 parameters; docs/ARCHITECTURE.md, Models in the tests):
    UNet2DModel(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(32, 64, 64),
                layers_per_block=1, down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), norm_num_groups=16,
                attention_head_dim=None)
    i.e. attention (one head of 64 channels) only at 7 x 7: in the last down block, the mid block and
    the first up block. Initialised by diffusers' defaults after torch.manual_seed(seed).

Optimiser: AdamW(lr 2e-4, betas (0.9, 0.999), eps 1e-8, weight_decay 0), learning rate linear
warm-up from 0 to 2e-4 over the first --warmup-steps (500) steps, then constant; gradient-norm
clipping at 1.0 (as in Ho et al.'s code; --grad-clip 0 disables). Batch 128. EMA of the parameters
after every step: ema = d * ema + (1 - d) * param with d = min(0.999, (1 + s) / (10 + s)), s = the
number of optimizer steps taken before this one; the EMA weights are what is exported.

Determinism: seed (default 0) for python `random`, numpy's global RNG, torch's global RNG (model
init) and a dedicated torch.Generator (seeded seed + 1) that draws t and eps; torch.set_num_threads(2)
(--threads) and set_num_interop_threads(1). PyTorch CPU kernels are deterministic for a fixed thread
count on one machine, so a resumed run reproduces the uninterrupted one bit for bit (--verify-resume);
a different thread count or CPU may change the last bits.

Checkpoint (torch.save, written to CKPT.tmp then os.replace, so it is never half-written): model,
EMA and optimizer state dicts, step, epoch, position in the epoch, the epoch's permutation, the
states of the dedicated generator and of torch / numpy / python's global RNGs, the running-loss
accumulator, the cumulative training wall time, and the hyper-parameters (a resume with different
ones is refused). Written every --checkpoint-every steps (default 200), at the end, and on signals.

CSV log (--log), one row every --log-every steps (default 10), flushed per row:
    step, epoch (fractional, steps / 468), loss (mean of the per-step losses since the previous row,
    repr precision), lr, images_per_s (over those steps, this process), wall_s (cumulative training
    wall time over all sessions), session_s.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import copy
import csv
import gzip
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

PINNED = {"python": "3.11.7", "torch": "2.13.0+cpu", "diffusers": "0.42.1", "numpy": "2.4.6"}
DATA_DIR = "/usr/share/datasets/fashion-mnist"
N_TRAIN = 60000
MODEL_CONFIG = dict(
    sample_size=28,
    in_channels=1,
    out_channels=1,
    block_out_channels=(32, 64, 64),
    layers_per_block=1,
    down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
    norm_num_groups=16,
    attention_head_dim=None,
)
SCHEDULER_CONFIG = dict(num_train_timesteps=1000, beta_schedule="linear", variance_type="fixed_small", clip_sample=False)
CSV_FIELDS = ["step", "epoch", "loss", "lr", "images_per_s", "wall_s", "session_s"]
# Hyper-parameters that must match on resume.
HPARAM_KEYS = ["seed", "batch_size", "lr", "warmup_steps", "weight_decay", "ema_decay", "grad_clip", "threads", "limit_images"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def check_versions() -> None:
    import diffusers

    got = {
        "python": ".".join(map(str, sys.version_info[:3])),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "numpy": np.__version__,
    }
    for k, v in PINNED.items():
        if got[k] != v:
            log(f"warning: {k} {got[k]} differs from the pinned {v}; results may differ in the last bits")


# ------------------------------------------------------------------------------------------------ data


def read_idx_images(path: Path) -> np.ndarray:
    """Read a gzip IDX3 uint8 file (magic 2051) into an (N, 28, 28) uint8 array."""
    if not path.exists():
        sys.exit(f"error: {path} not found; install the data with: apt-get install -y dataset-fashion-mnist")
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = (int.from_bytes(data[i : i + 4], "big") for i in range(0, 16, 4))
    if magic != 2051:
        sys.exit(f"error: {path}: IDX magic {magic}, expected 2051 (uint8 images)")
    arr = np.frombuffer(data, dtype=np.uint8, offset=16)
    if arr.size != n * rows * cols:
        sys.exit(f"error: {path}: {arr.size} pixels, header says {n}x{rows}x{cols}")
    return arr.reshape(n, rows, cols)


def epoch_permutation(seed: int, epoch: int, n: int = N_TRAIN) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n).astype(np.int64)


# ----------------------------------------------------------------------------------------- model etc.


def build_model():
    from diffusers import UNet2DModel

    return UNet2DModel(**MODEL_CONFIG)


def lr_at(step: int, args) -> float:
    """Learning rate for the optimizer step that follows `step` completed steps."""
    if args.warmup_steps > 0 and step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    return args.lr


def ema_decay_at(step: int, cap: float) -> float:
    return min(cap, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def ema_update(ema, model, decay: float) -> None:
    for pe, p in zip(ema.parameters(), model.parameters()):
        pe.mul_(decay).add_(p.detach(), alpha=1.0 - decay)
    for be, b in zip(ema.buffers(), model.buffers()):
        be.copy_(b)


def atomic_torch_save(obj, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def export_pipeline(ema_state: dict, out: Path, force: bool) -> None:
    from diffusers import DDPMPipeline, DDPMScheduler

    if out.exists() and not force:
        sys.exit(f"error: {out} exists; pass --force to overwrite it")
    unet = build_model()
    unet.load_state_dict(ema_state)
    unet.eval()
    pipe = DDPMPipeline(unet=unet, scheduler=DDPMScheduler(**SCHEDULER_CONFIG))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
    try:
        pipe.save_pretrained(tmp, safe_serialization=True)
        # mkdtemp makes a 0700 folder and safetensors writes 0600 files: normalise to 0755 / 0644.
        for q in [tmp, *tmp.rglob("*")]:
            os.chmod(q, 0o755 if q.is_dir() else 0o644)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log(f"exported EMA weights as a diffusers DDPMPipeline folder: {out} ({size / 1e6:.2f} MB)")


# -------------------------------------------------------------------------------------------- CSV log


def open_log(path: Path | None, resume_step: int | None, force: bool):
    """Open the CSV for appending. Fresh run: refuse an existing file unless --force. Resume: keep only
    the rows with step <= the checkpoint's step (rows written after the last checkpoint are redone)."""
    if path is None:
        return None, None
    path.parent.mkdir(parents=True, exist_ok=True)
    if resume_step is None:
        if path.exists() and not force:
            sys.exit(f"error: log {path} exists; pass --force to overwrite it (or --resume)")
        f = open(path, "w", newline="")
        w = csv.writer(f)
        w.writerow(CSV_FIELDS)
    else:
        rows = []
        if path.exists():
            with open(path, newline="") as f:
                r = csv.reader(f)
                header = next(r, None)
                if header is not None and header != CSV_FIELDS:
                    sys.exit(f"error: log {path} has columns {header}, expected {CSV_FIELDS}")
                rows = [row for row in r if row and int(row[0]) <= resume_step]
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(CSV_FIELDS)
            w.writerows(rows)
        os.replace(tmp, path)
        f = open(path, "a", newline="")
        w = csv.writer(f)
    return f, w


# ------------------------------------------------------------------------------------------- training


def train(args) -> int:
    from diffusers import DDPMScheduler

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)

    ckpt_path = Path(args.checkpoint) if args.checkpoint else (Path(args.resume) if args.resume else None)
    if ckpt_path is None:
        sys.exit("error: give --checkpoint PATH (a fresh run) or --resume CKPT")
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not args.force:
        sys.exit(f"error: output folder {out} exists; pass --force to overwrite it at the end")

    state = None
    if args.resume:
        state = torch.load(args.resume, map_location="cpu", weights_only=False)
        saved = state["hparams"]
        for k in HPARAM_KEYS:
            if saved[k] != getattr(args, k):
                sys.exit(f"error: checkpoint was trained with {k}={saved[k]!r}, this command says {getattr(args, k)!r}")
        if ckpt_path.resolve() != Path(args.resume).resolve() and ckpt_path.exists() and not args.force:
            sys.exit(f"error: checkpoint {ckpt_path} exists; pass --force to overwrite it")
    elif ckpt_path.exists() and not args.force:
        sys.exit(f"error: checkpoint {ckpt_path} exists; pass --force to overwrite it (or --resume it)")

    images = read_idx_images(Path(args.data) / "train-images-idx3-ubyte.gz")
    if images.shape != (N_TRAIN, 28, 28):
        sys.exit(f"error: expected 60000 28x28 training images, got {images.shape}")
    n_images = N_TRAIN
    if args.limit_images is not None:  # testing only: the first N images
        n_images = args.limit_images
        images = images[:n_images]
        log(f"warning: --limit-images {n_images}: training on a subset (for tests only)")
    images_t = torch.from_numpy(images.copy())  # uint8, converted per batch
    steps_per_epoch = n_images // args.batch_size

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    model = build_model()
    model.train()
    ema = copy.deepcopy(model)
    ema.requires_grad_(False)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=args.weight_decay)
    scheduler = DDPMScheduler(**SCHEDULER_CONFIG)
    gen = torch.Generator().manual_seed(args.seed + 1)

    step, epoch, pos = 0, 0, 0
    perm = epoch_permutation(args.seed, 0, n_images)
    loss_sum, loss_n = 0.0, 0
    wall_before = 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        step, epoch, pos = state["step"], state["epoch"], state["pos"]
        perm = state["perm"].numpy()
        gen.set_state(state["rng"]["generator"])
        torch.set_rng_state(state["rng"]["torch"])
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        loss_sum, loss_n = state["loss_acc"]
        wall_before = state["wall_s"]
        log(f"resumed {args.resume}: step {step}, epoch {epoch}, position {pos}/{steps_per_epoch}, "
            f"{wall_before / 60:.1f} min trained so far")
    else:
        log(f"fresh run: {n_params} parameters, seed {args.seed}, batch {args.batch_size}, {steps_per_epoch} steps/epoch")

    log_file, log_writer = open_log(Path(args.log) if args.log else None, step if state is not None else None, args.force)

    stop_signal = {"sig": None}

    def on_signal(signum, frame):
        stop_signal["sig"] = signum
        log(f"signal {signum}: finishing this step, then writing the checkpoint")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    session_t0 = time.perf_counter()
    train_time_session = 0.0  # excludes checkpoint / log I/O
    interval_t0, interval_images = time.perf_counter(), 0

    def make_checkpoint() -> dict:
        return {
            "format": "skipstep-train-unet-1",
            "model_config": MODEL_CONFIG,
            "scheduler_config": SCHEDULER_CONFIG,
            "hparams": {k: getattr(args, k) for k in HPARAM_KEYS},
            "model": model.state_dict(),
            "ema": ema.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "epoch": epoch,
            "pos": pos,
            "perm": torch.from_numpy(perm),
            "rng": {
                "generator": gen.get_state(),
                "torch": torch.get_rng_state(),
                "numpy": np.random.get_state(),
                "python": random.getstate(),
            },
            "loss_acc": (loss_sum, loss_n),
            "wall_s": wall_before + train_time_session,
            "versions": {"torch": torch.__version__, "numpy": np.__version__},
        }

    def save_checkpoint(reason: str) -> None:
        atomic_torch_save(make_checkpoint(), ckpt_path)
        log(f"checkpoint ({reason}) step {step} -> {ckpt_path}")

    stopped_by = None
    while True:
        if step >= args.max_steps:
            stopped_by = "max-steps"
            break
        if stop_signal["sig"] is not None:
            stopped_by = "signal"
            break
        if args.max_minutes is not None and time.perf_counter() - session_t0 >= args.max_minutes * 60:
            stopped_by = "max-minutes"
            break

        t_step = time.perf_counter()
        idx = torch.from_numpy(perm[pos * args.batch_size : (pos + 1) * args.batch_size])
        x0 = images_t[idx].to(torch.float32).div_(127.5).sub_(1.0).unsqueeze(1)
        t = torch.randint(0, scheduler.config.num_train_timesteps, (args.batch_size,), generator=gen, dtype=torch.int64)
        noise = torch.randn(x0.shape, generator=gen, dtype=torch.float32)
        xt = scheduler.add_noise(x0, noise, t)

        lr = lr_at(step, args)
        for g in opt.param_groups:
            g["lr"] = lr
        pred = model(xt, t).sample
        loss = F.mse_loss(pred, noise)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        ema_update(ema, model, ema_decay_at(step, args.ema_decay))

        loss_value = loss.item()
        if not math.isfinite(loss_value):
            sys.exit(f"error: loss is {loss_value} at step {step}; not writing a checkpoint")
        loss_sum += loss_value
        loss_n += 1
        step += 1
        pos += 1
        if pos == steps_per_epoch:
            epoch, pos = epoch + 1, 0
            perm = epoch_permutation(args.seed, epoch, n_images)
        interval_images += args.batch_size
        train_time_session += time.perf_counter() - t_step

        if step % args.log_every == 0 or step == args.max_steps:
            now = time.perf_counter()
            ips = interval_images / max(now - interval_t0, 1e-9)
            mean_loss = loss_sum / loss_n
            row = [step, f"{step / steps_per_epoch:.4f}", repr(mean_loss), repr(lr), f"{ips:.2f}",
                   f"{wall_before + train_time_session:.2f}", f"{now - session_t0:.2f}"]
            if log_writer is not None:
                log_writer.writerow(row)
                log_file.flush()
            log(f"step {step:6d}  epoch {step / steps_per_epoch:7.3f}  loss {mean_loss:.5f}  lr {lr:.2e}  "
                f"{ips:6.1f} img/s  wall {(wall_before + train_time_session) / 60:7.1f} min")
            loss_sum, loss_n = 0.0, 0
            interval_t0, interval_images = time.perf_counter(), 0
        if args.checkpoint_every > 0 and step % args.checkpoint_every == 0 and step < args.max_steps:
            t_ck = time.perf_counter()
            save_checkpoint("periodic")
            interval_t0 += time.perf_counter() - t_ck  # keep checkpoint I/O out of images/s

    save_checkpoint(stopped_by)
    if log_file is not None:
        log_file.close()
    if stopped_by == "max-steps":
        if out is not None:
            export_pipeline(ema.state_dict(), out, args.force)
        else:
            log("finished; no --out given, nothing exported (use --export-only CKPT --out DIR)")
        return 0
    log(f"stopped by {stopped_by} at step {step}/{args.max_steps}; resume with --resume {ckpt_path}")
    if stopped_by == "signal":
        return 128 + stop_signal["sig"]
    return 0


def export_only(args) -> int:
    if not args.out:
        sys.exit("error: --export-only needs --out DIR")
    state = torch.load(args.export_only, map_location="cpu", weights_only=False)
    log(f"{args.export_only}: step {state['step']}, epoch {state['epoch']}")
    export_pipeline(state["ema"], Path(args.out), args.force)
    return 0


# ------------------------------------------------------------------------------------ resume self-test


def verify_resume(args) -> int:
    """20 steps straight vs 10 + resume + 10 (separate processes), bit-for-bit comparison."""
    n, half = args.verify_steps, args.verify_steps // 2
    me = [sys.executable, os.path.abspath(__file__), "--data", args.data, "--threads", str(args.threads),
          "--seed", str(args.seed), "--batch-size", str(args.batch_size), "--log-every", "1",
          "--checkpoint-every", "0"]
    if args.limit_images is not None:
        me += ["--limit-images", str(args.limit_images)]
    with tempfile.TemporaryDirectory(prefix="train_unet_verify_") as d:
        d = Path(d)
        subprocess.run(me + ["--checkpoint", str(d / "a.pt"), "--log", str(d / "a.csv"), "--max-steps", str(n)], check=True)
        subprocess.run(me + ["--checkpoint", str(d / "b.pt"), "--log", str(d / "b.csv"), "--max-steps", str(half)], check=True)
        subprocess.run(me + ["--resume", str(d / "b.pt"), "--log", str(d / "b.csv"), "--max-steps", str(n)], check=True)

        def losses(p):
            with open(p, newline="") as f:
                return [(int(r["step"]), r["loss"]) for r in csv.DictReader(f)]

        la, lb = losses(d / "a.csv"), losses(d / "b.csv")
        a = torch.load(d / "a.pt", map_location="cpu", weights_only=False)
        b = torch.load(d / "b.pt", map_location="cpu", weights_only=False)

        def tensors_equal(x, y) -> tuple[int, int]:
            keys = list(x.keys())
            bad = sum(0 if torch.equal(x[k], y[k]) else 1 for k in keys)
            return bad, len(keys)

        m_bad, m_n = tensors_equal(a["model"], b["model"])
        e_bad, e_n = tensors_equal(a["ema"], b["ema"])
        oa, ob = a["optimizer"]["state"], b["optimizer"]["state"]
        o_bad = sum(0 if all(torch.equal(oa[i][k], ob[i][k]) for k in oa[i]) else 1 for i in oa)
        gen_ok = torch.equal(a["rng"]["generator"], b["rng"]["generator"])
        same_losses = la == lb and len(la) == n
        print(f"resume check ({n} steps straight vs {half} + resume + {n - half}, batch {args.batch_size}, "
              f"{args.threads} threads, {args.limit_images or N_TRAIN} images):")
        print(f"  per-step losses identical: {same_losses} ({len(la)} vs {len(lb)} rows)")
        if not same_losses:
            for (sa, xa), (sb, xb) in zip(la, lb):
                if xa != xb:
                    print(f"    step {sa}: {xa} vs {xb}")
        print(f"  model tensors bit-identical: {m_n - m_bad}/{m_n}")
        print(f"  EMA tensors bit-identical: {e_n - e_bad}/{e_n}")
        print(f"  AdamW state bit-identical: {len(oa) - o_bad}/{len(oa)} parameters")
        print(f"  generator state identical: {gen_ok}; step {a['step']} vs {b['step']}, "
              f"epoch/pos {a['epoch']}/{a['pos']} vs {b['epoch']}/{b['pos']}")
        ok = same_losses and m_bad == 0 and e_bad == 0 and o_bad == 0 and gen_ok and a["step"] == b["step"]
        print("RESUME EXACT: " + ("yes" if ok else "NO"))
        return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", help="checkpoint to write (a fresh run; defaults to --resume's path)")
    p.add_argument("--resume", metavar="CKPT", help="continue from this checkpoint")
    p.add_argument("--export-only", metavar="CKPT", help="export CKPT's EMA weights to --out and exit")
    p.add_argument("--verify-resume", action="store_true", help="self-test: straight vs interrupted run, bit-exact")
    p.add_argument("--verify-steps", type=int, default=20)
    p.add_argument("--out", help="diffusers pipeline folder to write when --max-steps is reached")
    p.add_argument("--log", help="CSV training log")
    p.add_argument("--data", default=DATA_DIR, help=f"folder with the Fashion-MNIST IDX .gz files (default {DATA_DIR})")
    p.add_argument("--max-steps", type=int, default=5600, help="total optimizer steps (across resumes); default 5600 (~12 epochs)")
    p.add_argument("--max-minutes", type=float, default=None, help="stop (and checkpoint) after this much wall clock in this process")
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--warmup-steps", type=int, default=500)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--grad-clip", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit-images", type=int, default=None, help=argparse.SUPPRESS)  # tests: first N images only
    p.add_argument("--force", action="store_true", help="allow overwriting an existing checkpoint / log / output folder")
    args = p.parse_args()
    check_versions()
    if args.export_only:
        return export_only(args)
    if args.verify_resume:
        return verify_resume(args)
    return train(args)


if __name__ == "__main__":
    sys.exit(main())
