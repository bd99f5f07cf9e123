#!/usr/bin/env python3
"""Train the Fashion-MNIST feature network of skipstep (the domain's FID / IS network) and export it
for the Swift engine, with a parity golden.

Versions (pinned; the script warns on others): Python 3.11.7, torch 2.13.0+cpu, numpy 2.4.6,
safetensors 0.8.0. Data: Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/;
`apt-get install -y dataset-fashion-mnist`).

Commands (from the repository root):

    python3 tools/train_classifier.py --out models/fashion-classifier            # full run (10 epochs)
    python3 tools/train_classifier.py --out /tmp/clf --max-steps 30 --force      # smoke test
    python3 tools/train_classifier.py --golden-only models/fashion-classifier    # rewrite golden.json
                                                                                 # from the exported weights

Architecture (only conv2d 3x3 stride 1 padding 1, ReLU, max-pool 2x2 stride 2, flatten, linear, so the
Swift engine can run it); input 1 x 28 x 28, pixels x / 127.5 - 1 (as the diffusion model):

    conv1  Conv2d(1, 32, 3, padding=1)   relu
    conv2  Conv2d(32, 32, 3, padding=1)  relu  maxpool 2x2    -> 32 x 14 x 14
    conv3  Conv2d(32, 64, 3, padding=1)  relu
    conv4  Conv2d(64, 64, 3, padding=1)  relu  maxpool 2x2    -> 64 x 7 x 7
    flatten (PyTorch order: channel, row, column)              -> 3136
    fc1    Linear(3136, 128)  relu                             -> features (128-d, after the ReLU)
    fc2    Linear(128, 10)                                     -> logits

Training: Adam (lr 1e-3, betas (0.9, 0.999)), cross-entropy, batch 128, 10 epochs, learning rate
cosine-annealed to 0 over all steps; dropout (p 0.25) on the flattened 3136-vector and on the 128
features during training only (dropout is the identity at inference, so it is not part of the
exported network); no data augmentation. Each epoch uses the permutation
torch.randperm(60000, generator) of one torch.Generator seeded with --seed (default 0) (last partial
batch kept). torch.manual_seed(seed) before the model is built; torch.set_num_threads(2). Reported:
accuracy on the 10 000 test images (t10k-*), overall and per class.

Output folder (--out; refused if it exists, unless --force):
    model.safetensors   float32 tensors conv1.weight [32,1,3,3], conv1.bias, ..., conv4.*, fc1.weight
                        [128,3136], fc1.bias, fc2.weight [10,128], fc2.bias (PyTorch layouts)
    config.json         the layer list in order, the input scaling, the feature layer, class names,
                        test accuracy, training settings and versions
    golden.json         the first 8 test images: pixels (uint8), inputs (float32, NCHW [8,1,28,28]),
                        features [8,128] and logits [8,10] from the float32 PyTorch forward, and the same
                        from a float64 forward of the same (float32) weights and inputs; labels
    train_log.csv       epoch, step, train loss, train accuracy, test accuracy, lr, wall seconds
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PINNED = {"python": "3.11.7", "torch": "2.13.0+cpu", "numpy": "2.4.6"}
DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def check_versions() -> dict:
    import safetensors

    got = {"python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__}
    for k, v in PINNED.items():
        if got[k] != v:
            log(f"warning: {k} {got[k]} differs from the pinned {v}")
    got["safetensors"] = safetensors.__version__
    return got


def read_idx(path: Path, magic_expected: int) -> np.ndarray:
    if not path.exists():
        sys.exit(f"error: {path} not found; install the data with: apt-get install -y dataset-fashion-mnist")
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic != magic_expected:
        sys.exit(f"error: {path}: IDX magic {magic}, expected {magic_expected}")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        sys.exit(f"error: {path}: {arr.size} values, header says {dims}")
    return arr.reshape(dims)


def load_split(data_dir: Path, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
    images = read_idx(data_dir / f"{prefix}-images-idx3-ubyte.gz", 2051)
    labels = read_idx(data_dir / f"{prefix}-labels-idx1-ubyte.gz", 2049)
    assert images.shape[0] == labels.shape[0] and images.shape[1:] == (28, 28)
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def scale(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28] in [-1, 1], x / 127.5 - 1."""
    return images_u8.to(torch.float32).div(127.5).sub(1.0).unsqueeze(1)


class FashionCNN(nn.Module):
    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (features [N, 128], logits [N, 10])."""
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2, 2)
        x = F.relu(self.conv3(x))
        x = F.max_pool2d(F.relu(self.conv4(x)), 2, 2)
        x = torch.flatten(x, 1)
        x = F.dropout(x, self.dropout, self.training)
        features = F.relu(self.fc1(x))
        logits = self.fc2(F.dropout(features, self.dropout, self.training))
        return features, logits


LAYERS = [
    {"op": "conv2d", "name": "conv1", "in_channels": 1, "out_channels": 32, "kernel_size": 3, "stride": 1, "padding": 1},
    {"op": "relu"},
    {"op": "conv2d", "name": "conv2", "in_channels": 32, "out_channels": 32, "kernel_size": 3, "stride": 1, "padding": 1},
    {"op": "relu"},
    {"op": "maxpool2d", "kernel_size": 2, "stride": 2},
    {"op": "conv2d", "name": "conv3", "in_channels": 32, "out_channels": 64, "kernel_size": 3, "stride": 1, "padding": 1},
    {"op": "relu"},
    {"op": "conv2d", "name": "conv4", "in_channels": 64, "out_channels": 64, "kernel_size": 3, "stride": 1, "padding": 1},
    {"op": "relu"},
    {"op": "maxpool2d", "kernel_size": 2, "stride": 2},
    {"op": "flatten", "order": "CHW", "out_features": 3136},
    {"op": "linear", "name": "fc1", "in_features": 3136, "out_features": 128},
    {"op": "relu", "output": "features"},
    {"op": "linear", "name": "fc2", "in_features": 128, "out_features": 10, "output": "logits"},
]


@torch.no_grad()
def evaluate(model: FashionCNN, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000) -> tuple[float, list[float]]:
    model.eval()
    preds = []
    for i in range(0, images.shape[0], batch):
        preds.append(model(scale(images[i : i + batch]))[1].argmax(1))
    pred = torch.cat(preds)
    correct = pred == labels
    per_class = [correct[labels == c].float().mean().item() for c in range(10)]
    return correct.float().mean().item(), per_class


def f32_list(t: torch.Tensor) -> list:
    return t.to(torch.float32).tolist()  # python floats hold float32 values exactly


@torch.no_grad()
def make_golden(model: FashionCNN, images: torch.Tensor, labels: torch.Tensor, n: int = 8) -> dict:
    model.eval()
    x = scale(images[:n])
    feats, logits = model(x)
    m64 = FashionCNN().double()
    m64.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    m64.eval()
    feats64, logits64 = m64(x.double())
    return {
        "description": "first 8 Fashion-MNIST test images; inputs = pixels / 127.5 - 1 (float32, NCHW); "
        "features = relu(fc1) and logits = fc2 of model.safetensors, from the float32 PyTorch forward "
        "(features/logits) and from a float64 forward of the same float32 weights and inputs (*_f64)",
        "shape": {"inputs": [n, 1, 28, 28], "features": [n, 128], "logits": [n, 10]},
        "labels": labels[:n].tolist(),
        "pixels": images[:n].tolist(),
        "inputs": f32_list(x),
        "features": f32_list(feats),
        "logits": f32_list(logits),
        "features_f64": feats64.tolist(),
        "logits_f64": logits64.tolist(),
        "f32_vs_f64_max_abs": {
            "features": (feats.double() - feats64).abs().max().item(),
            "logits": (logits.double() - logits64).abs().max().item(),
        },
    }


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=1) + "\n")


def golden_only(args) -> int:
    from safetensors.torch import load_file

    d = Path(args.golden_only)
    model = FashionCNN()
    model.load_state_dict(load_file(d / "model.safetensors"))
    images, labels = load_split(Path(args.data), "t10k")
    write_json(d / "golden.json", make_golden(model, images, labels))
    log(f"wrote {d / 'golden.json'}")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", help="output folder (model.safetensors, config.json, golden.json, train_log.csv)")
    p.add_argument("--golden-only", metavar="DIR", help="recompute DIR/golden.json from DIR/model.safetensors")
    p.add_argument("--data", default=DATA_DIR)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke tests)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.25)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--force", action="store_true", help="overwrite an existing --out folder")
    args = p.parse_args()
    versions = check_versions()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    if args.golden_only:
        return golden_only(args)
    if not args.out:
        sys.exit("error: give --out DIR")
    out = Path(args.out)
    if out.exists() and not args.force:
        sys.exit(f"error: {out} exists; pass --force to overwrite it")

    from safetensors.torch import save_file

    train_x, train_y = load_split(Path(args.data), "train")
    test_x, test_y = load_split(Path(args.data), "t10k")
    n = train_x.shape[0]
    steps_per_epoch = math.ceil(n / args.batch_size)
    total_steps = args.epochs * steps_per_epoch
    if args.max_steps is not None:
        total_steps = min(total_steps, args.max_steps)

    torch.manual_seed(args.seed)
    model = FashionCNN(dropout=args.dropout)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    log(f"{n_params} parameters; {total_steps} steps ({steps_per_epoch}/epoch), batch {args.batch_size}")

    rows = []
    t0 = time.perf_counter()
    step = 0
    epoch = 0
    while step < total_steps:
        model.train()
        perm = torch.randperm(n, generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(0, n, args.batch_size):
            if step >= total_steps:
                break
            lr = 0.5 * args.lr * (1 + math.cos(math.pi * step / total_steps))
            for g in opt.param_groups:
                g["lr"] = lr
            idx = perm[i : i + args.batch_size]
            x, y = scale(train_x[idx]), train_y[idx]
            _, logits = model(x)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            loss_sum += loss.item() * y.shape[0]
            correct += (logits.argmax(1) == y).sum().item()
            seen += y.shape[0]
            if step % 50 == 0:
                el = time.perf_counter() - t0
                log(f"epoch {epoch} step {step}/{total_steps} loss {loss_sum / seen:.4f} acc {correct / seen:.4f} "
                    f"lr {lr:.2e} {step * args.batch_size / el:.0f} img/s")
        test_acc, _ = evaluate(model, test_x, test_y)
        el = time.perf_counter() - t0
        rows.append([epoch, step, f"{loss_sum / seen:.6f}", f"{correct / seen:.6f}", f"{test_acc:.6f}", f"{lr:.3e}", f"{el:.1f}"])
        log(f"epoch {epoch} done: train loss {loss_sum / seen:.4f} train acc {correct / seen:.4f} test acc {test_acc:.4f} ({el:.0f} s)")
        epoch += 1

    wall = time.perf_counter() - t0
    test_acc, per_class = evaluate(model, test_x, test_y)
    log(f"test accuracy {test_acc:.4f}; per class " + ", ".join(f"{c} {a:.3f}" for c, a in zip(CLASSES, per_class)))
    if test_acc < 0.91 and args.max_steps is None:
        log("warning: test accuracy below the 91% target")

    model.eval()
    state = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    config = {
        "format": "skipstep-fashion-cnn-1",
        "input": {"shape": [1, 28, 28], "layout": "NCHW", "scaling": "x / 127.5 - 1 (uint8 pixels to [-1, 1])"},
        "layers": LAYERS,
        "features": {"layer": "relu after fc1", "dim": 128},
        "logits": {"layer": "fc2", "dim": 10},
        "classes": CLASSES,
        "num_parameters": n_params,
        "test_accuracy": test_acc,
        "test_accuracy_per_class": dict(zip(CLASSES, per_class)),
        "training": {
            "data": "Fashion-MNIST train (60000), Debian dataset-fashion-mnist",
            "optimizer": "Adam", "lr": args.lr, "schedule": "cosine to 0", "batch_size": args.batch_size,
            "epochs": args.epochs, "steps": step, "max_steps": args.max_steps, "dropout_train_only": args.dropout,
            "augmentation": "none", "seed": args.seed, "threads": args.threads, "wall_s": round(wall, 1),
            "command": "python3 tools/train_classifier.py " + " ".join(sys.argv[1:]),
        },
        "versions": versions,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
    try:
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        write_json(tmp / "config.json", config)
        write_json(tmp / "golden.json", make_golden(model, test_x, test_y))
        with open(tmp / "train_log.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["epoch", "step", "train_loss", "train_acc", "test_acc", "lr", "wall_s"])
            w.writerows(rows)
        for q in [tmp, *tmp.rglob("*")]:
            q.chmod(0o755 if q.is_dir() else 0o644)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log(f"wrote {out}: model.safetensors ({(out / 'model.safetensors').stat().st_size / 1e6:.2f} MB), config.json, "
        f"golden.json, train_log.csv; {wall:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
