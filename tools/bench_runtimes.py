#!/usr/bin/env python3
"""Time skipstep against PyTorch eager, ONNX Runtime and OpenVINO on the same random-weight models,
in one run, rounds interleaved, every engine in its own process (docs/PERFORMANCE.md).

    python tools/bench_runtimes.py --skipstep .build/release/skipstep                 # all rows
    python tools/bench_runtimes.py --skipstep BIN --rows small:1,small:16 --rounds 5
    python tools/bench_runtimes.py --skipstep BIN --rows adm64:1,adm64:4 --json out.json

Setup (pinned; Python is only for tools):
    pip install "torch==2.13.0+cpu" diffusers==0.42.1 safetensors onnx==1.23.2 onnxscript==0.7.2 \\
        onnxruntime==1.31.1 openvino==2026.4.1
    pip install --no-deps guided-diffusion-sdk==1.0.0     # only for the adm64 row

Rows are CONFIG:BATCH. Configs (random weights, seeded; speed does not depend on the values):
    cifar10   google/ddpm-cifar10-32's UNet2DModel config (35.7 M parameters), 3x32x32
    small     the 1.1 M-parameter 1x28x28 UNet2DModel of docs/ARCHITECTURE.md (attention at 7x7)
    adm64     guided-diffusion's ImageNet 64x64 UNetModel (README flags, class-conditional, 295.9 M)
    sd-mid    Stable Diffusion 2.1's UNet2DConditionModel at half width (block_out 160..640, 223.0 M),
              latent 32x32, 77 context tokens of 1024
    sd-full   SD 2.1-base's UNet2DConditionModel (865.9 M) at latent 32x32; sd-full64 at 64x64 (512²)
Each is written once under --work (default /tmp/skipstep-bench): the model folder skipstep and
PyTorch load, and model.onnx exported from the same PyTorch module (batch axis dynamic). The SD
rows time one UNet evaluation of BATCH latent rows (a guided step at one image is 2 rows) with
`skipstep bench --component unet` on a pipeline folder: sd-full uses --sd-folder (a full-size
random SD 2.1-base folder: `tools/make_sd_real_shapes.py DIR && tools/make_sd_bench_pipeline.py
DIR`, then --sd-folder DIR/pipeline), sd-mid borrows its other components. sd-full is not
exported to ONNX (3.5 GB of F32 weights; its columns read "—").

Method. For every row and every round, each engine runs in a fresh process (the order rotates from
round to round): load, WARMUP untimed forwards, RUNS timed forwards on the same seeded input
(x ~ randn, one int64 timestep per image spread over 0..999, class 0 where the model is
class-conditional); the process reports the median seconds per forward and its peak RSS
(getrusage ru_maxrss, whole process). Threads: 2 for everyone — PyTorch set_num_threads(2) and
one inter-op thread; ONNX Runtime intra_op 2, inter_op 1, sequential, all graph optimisations;
OpenVINO CPU with INFERENCE_NUM_THREADS 2, PERFORMANCE_HINT LATENCY, INFERENCE_PRECISION_HINT
f32; skipstep SKIPSTEP_KERNEL_THREADS=2. The environment is passed on as it is (OPENBLAS_CORETYPE
included). Reported per row: each engine's images/s (median over rounds of batch / per-round
median), the ratio skipstep / best of ONNX Runtime and OpenVINO and skipstep / PyTorch (medians of
the per-round ratios), and each engine's largest peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
VERSIONS = {"torch": "2.13.0+cpu", "diffusers": "0.42.1", "onnx": "1.23.2", "onnxscript": "0.7.2",
            "onnxruntime": "1.31.1", "openvino": "2026.4.1"}
CONFIGS = ("cifar10", "small", "adm64", "sd-mid", "sd-full", "sd-full64")
SD_LATENT = {"sd-mid": 32, "sd-full": 32, "sd-full64": 64}
DEFAULT_ROWS = "cifar10:1,cifar10:16,small:1,small:16"
ENGINES = ("pytorch", "onnxruntime", "openvino", "skipstep")
THREADS = 2


# ---------------------------------------------------------------- model folders and ONNX files

def _config_dir(work: Path, name: str) -> Path:
    return work / ("sd-full" if name == "sd-full64" else name)


def _input_shape(meta: dict, batch: int) -> tuple:
    return (batch, meta["channels"], meta["size"], meta["size"])


def _build_torch(name: str):
    """The PyTorch module of a config with seeded random weights, and its metadata."""
    import torch

    torch.manual_seed(1234)
    if name in ("cifar10", "small"):
        sys.path.insert(0, str(TOOLS))
        from diffusers import UNet2DModel
        from make_unet_fixtures import CIFAR10_CONFIG, SMALL28_CONFIG

        config = CIFAR10_CONFIG if name == "cifar10" else SMALL28_CONFIG
        model = UNet2DModel(**config).eval()
        meta = {"kind": "diffusers", "channels": config["in_channels"], "size": config["sample_size"],
                "class_cond": False}
        return model, meta
    if name == "adm64":
        sys.path.insert(0, str(TOOLS))
        from convert_adm import PRESETS
        from guided_diffusion.script_util import create_model, model_and_diffusion_defaults

        flags = dict(model_and_diffusion_defaults())
        flags.update(PRESETS["imagenet64"])
        flags["use_fp16"] = False  # F32 compute everywhere (the converted folder still says the preset's)
        keys = {k for k in model_and_diffusion_defaults() if k in create_model.__code__.co_varnames}
        model = create_model(**{k: flags[k] for k in keys}).eval()
        # zero_module leaves some convolutions at 0 (the output would be exactly 0): fill everything.
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0, 0.02)
        meta = {"kind": "adm", "channels": 3, "size": 64, "class_cond": True}
        return model, meta
    if name in SD_LATENT:
        sys.path.insert(0, str(TOOLS))
        from diffusers import UNet2DConditionModel
        from make_sd_real_shapes import UNET

        config = dict(UNET, block_out_channels=[160, 320, 640, 640]) if name == "sd-mid" else UNET
        model = UNet2DConditionModel(**config).eval()
        meta = {"kind": "sd", "channels": 4, "size": SD_LATENT[name], "class_cond": False, "context": (77, 1024)}
        return model, meta
    raise SystemExit(f"bench_runtimes: unknown config {name!r} (known: {', '.join(CONFIGS)})")


class _Forward:
    """x, t[, y] -> output tensor, for export and timing."""

    def __init__(self, model, meta):
        self.model, self.meta = model, meta

    def module(self):
        import torch

        model, meta = self.model, self.meta

        class Wrapped(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = model

            def forward(self, x, t, y=None):
                if meta["kind"] == "diffusers":
                    return self.inner(x, t).sample
                if meta["kind"] == "sd":
                    return self.inner(x, t, encoder_hidden_states=y).sample
                return self.inner(x, t, y)

        return Wrapped().eval()


def _require_sd_folder(sd_folder: Path | None) -> None:
    if sd_folder is None or not (sd_folder / "model_index.json").exists():
        raise SystemExit(f"bench_runtimes: the SD rows need --sd-folder, a full-size SD 2.1-base pipeline folder "
                         f"(python tools/make_sd_real_shapes.py DIR && python tools/make_sd_bench_pipeline.py DIR; "
                         f"then --sd-folder DIR/pipeline); got {sd_folder}")


def _borrow_sd_components(pipeline: Path, sd_folder: Path) -> None:
    """A pipeline folder around another UNet: the full folder's other components, linked."""
    _require_sd_folder(sd_folder)
    pipeline.mkdir(parents=True, exist_ok=True)
    for entry in ("model_index.json", "scheduler", "text_encoder", "tokenizer", "vae"):
        target = pipeline / entry
        if not target.exists():
            target.symlink_to((sd_folder / entry).resolve())


def _prepare_sd_full(folder: Path, sd_folder: Path) -> Path:
    """sd-full: the folder of tools/time_sd_full.py as it is (float16-stored weights), no ONNX file."""
    _require_sd_folder(sd_folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / "model"
    if not model.exists():
        model.symlink_to(sd_folder.resolve())
    meta = {"kind": "sd", "channels": 4, "size": None, "class_cond": False, "context": [77, 1024], "onnx": False,
            "parameters": 865_910_724}
    (folder / "bench.json").write_text(json.dumps(meta) + "\n")
    return folder


def prepare(work: Path, name: str, sd_folder: Path | None = None) -> Path:
    """Write the config's model folder and model.onnx once; return the folder."""
    import torch

    folder = _config_dir(work, name)
    done = folder / "bench.json"
    if done.exists():
        return folder
    if name in ("sd-full", "sd-full64"):
        return _prepare_sd_full(folder, sd_folder)
    folder.mkdir(parents=True, exist_ok=True)
    model, meta = _build_torch(name)
    if meta["kind"] == "sd":
        _borrow_sd_components(folder / "model", sd_folder)
        model.save_pretrained(folder / "model" / "unet", safe_serialization=True)
    elif meta["kind"] == "diffusers":
        model.save_pretrained(folder / "model", safe_serialization=True)
    else:
        checkpoint = folder / "random.pt"
        torch.save(model.state_dict(), checkpoint)
        from convert_adm import main as convert_main

        if convert_main([str(checkpoint), "--out", str(folder / "model"), "--preset", "imagenet64"]) != 0:
            raise SystemExit("bench_runtimes: convert_adm refused the random checkpoint")
        checkpoint.unlink()
    wrapped = _Forward(model, meta).module()
    batch = 2
    x = torch.randn(_input_shape(meta, batch))
    t = torch.tensor([10, 900], dtype=torch.int64)
    if meta["kind"] == "sd":
        args, names = (x, t, torch.randn(batch, *meta["context"])), ["x", "t", "y"]
    else:
        args = (x, t) if not meta["class_cond"] else (x, t, torch.zeros(batch, dtype=torch.int64))
        names = ["x", "t"] + (["y"] if meta["class_cond"] else [])
    started = time.time()
    with torch.inference_mode():
        torch.onnx.export(wrapped, args, str(folder / "model.onnx"), input_names=names, output_names=["out"],
                          dynamic_axes={n: {0: "batch"} for n in names + ["out"]}, opset_version=18, dynamo=False,
                          external_data=meta["kind"] == "sd")
    print(f"{name}: exported model.onnx in {time.time() - started:.0f} s", file=sys.stderr)
    meta["parameters"] = sum(p.numel() for p in model.parameters())
    done.write_text(json.dumps(meta) + "\n")
    return folder


# ---------------------------------------------------------------- workers (one process each)

def _inputs(meta: dict, batch: int):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal(_input_shape(meta, batch)).astype(np.float32)
    t = np.linspace(0, 999, batch).astype(np.int64) if batch > 1 else np.array([500], dtype=np.int64)
    if meta["kind"] == "sd":
        return x, t, rng.standard_normal((batch, *meta["context"])).astype(np.float32)
    y = np.zeros(batch, dtype=np.int64)
    return x, t, y


def _time(call, warmup: int, runs: int) -> list[float]:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def worker(engine: str, folder: Path, batch: int, warmup: int, runs: int, latent: int | None) -> dict:
    meta = json.loads((folder / "bench.json").read_text())
    if latent:
        meta["size"] = latent
    x, t, y = _inputs(meta, batch)
    feeds = {"x": x, "t": t} | ({"y": y} if meta["class_cond"] or meta["kind"] == "sd" else {})
    if engine == "pytorch":
        import torch

        torch.set_num_threads(THREADS)
        torch.set_num_interop_threads(1)
        if meta["kind"] == "diffusers":
            from diffusers import UNet2DModel

            model = UNet2DModel.from_pretrained(folder / "model").eval()
        elif meta["kind"] == "sd":
            from diffusers import UNet2DConditionModel

            model = UNet2DConditionModel.from_pretrained(folder / "model" / "unet", torch_dtype=torch.float32).eval()
        else:
            model = _load_adm_torch(folder / "model")
        wrapped = _Forward(model, meta).module()
        args = [torch.from_numpy(v) for v in feeds.values()]
        with torch.inference_mode():
            times = _time(lambda: wrapped(*args), warmup, runs)
    elif engine == "onnxruntime":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        times = _time(lambda: session.run(None, feeds), warmup, runs)
    elif engine == "openvino":
        import openvino as ov

        core = ov.Core()
        compiled = core.compile_model(str(folder / "model.onnx"), "CPU", {
            "INFERENCE_NUM_THREADS": THREADS, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"})
        request = compiled.create_infer_request()
        times = _time(lambda: request.infer(feeds), warmup, runs)
    else:
        raise SystemExit(f"bench_runtimes: unknown engine {engine}")
    return {"median_s": statistics.median(times), "runs": runs, "peak_rss_mib": _peak_rss_mib()}


def _peak_rss_mib() -> float:
    """VmHWM: this process's own high-water mark (ru_maxrss would include a parent's, inherited at fork)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load_adm_torch(model_dir: Path):
    from safetensors.torch import load_file

    model, _ = _build_torch("adm64")
    model.load_state_dict(load_file(str(model_dir / "model.safetensors")))
    return model.eval()


def run_engine(engine: str, config: str, folder: Path, batch: int, warmup: int, runs: int, skipstep: str) -> dict | None:
    meta = json.loads((folder / "bench.json").read_text())
    if engine in ("onnxruntime", "openvino") and meta.get("onnx") is False:
        return None
    env = dict(os.environ, SKIPSTEP_KERNEL_THREADS=str(THREADS), OMP_NUM_THREADS=str(THREADS))
    latent = SD_LATENT.get(config)
    if engine == "skipstep":
        command = [skipstep, "bench", "--model", str(folder / "model"), "--batch", str(batch),
                   "--runs", str(runs), "--warmup", str(warmup), "--json"]
        command += ["--component", "unet", "--latent-size", str(latent), "--guidance", "1"] if latent else ["--timestep", "500"]
    else:
        command = [sys.executable, __file__, "--worker", engine, "--folder", str(folder), "--batch", str(batch),
                   "--runs", str(runs), "--warmup", str(warmup)] + (["--latent", str(latent)] if latent else [])
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"bench_runtimes: {engine} failed ({' '.join(command)}):\n{result.stderr[-2000:]}")
    for line in reversed(result.stdout.splitlines()):
        try:
            report = json.loads(line)
        except json.JSONDecodeError:
            continue
        if engine == "skipstep":
            return {"median_s": report["median_s"], "runs": runs, "peak_rss_mib": report["peak_rss_mib"],
                    "blas_core": report.get("blas_core")}
        return report
    raise SystemExit(f"bench_runtimes: {engine} printed no JSON line:\n{result.stdout[-2000:]}")


# ---------------------------------------------------------------- driver

def _check_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package, wanted in VERSIONS.items():
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
        if found[package] is None or not found[package].startswith(wanted.split("+")[0]):
            print(f"bench_runtimes: warning: {package} {found[package]} (pinned {wanted})", file=sys.stderr)
    return found


def _cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _budget(config: str, batch: int) -> tuple[int, int]:
    """(warmup, runs) per process: about a second or more of timed work per engine and round."""
    per_image = {"cifar10": 0.08, "small": 0.004, "adm64": 1.5, "sd-mid": 0.5, "sd-full": 1.5, "sd-full64": 6.0}[config]
    runs = max(2 if per_image >= 1 else 3, min(50, int(round(2.0 / (per_image * batch)))))
    return (1 if per_image >= 0.5 else 2), runs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--skipstep", default=".build/release/skipstep", help="the skipstep binary to time")
    ap.add_argument("--rows", default=DEFAULT_ROWS, help=f"CONFIG:BATCH,... (default {DEFAULT_ROWS})")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--engines", default=",".join(ENGINES), help="subset of " + ",".join(ENGINES))
    ap.add_argument("--work", type=Path, default=Path("/tmp/skipstep-bench"))
    ap.add_argument("--json", type=Path, help="also write every measurement to this file")
    ap.add_argument("--sd-folder", type=Path,
                    help="a full-size SD 2.1-base random pipeline folder (tools/make_sd_bench_pipeline.py), for the SD rows")
    ap.add_argument("--prepare", help=argparse.SUPPRESS)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--runs", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--warmup", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--latent", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.prepare:
        prepare(args.work, args.prepare, args.sd_folder)
        return 0
    if args.worker:
        print(json.dumps(worker(args.worker, args.folder, args.batch, args.warmup, args.runs, args.latent)))
        return 0

    rows = []
    for item in args.rows.split(","):
        config, _, batch = item.partition(":")
        if config not in CONFIGS or not batch.isdigit() or int(batch) < 1:
            ap.error(f"--rows: {item!r} is not CONFIG:BATCH with CONFIG in {', '.join(CONFIGS)}")
        rows.append((config, int(batch)))
    engines = args.engines.split(",")
    for engine in engines:
        if engine not in ENGINES:
            ap.error(f"--engines: unknown engine {engine!r}")
    versions = _check_versions()
    # Models are written by a child process: this driver stays small, because a child's ru_maxrss
    # (which `skipstep bench` reports) starts from its parent's at fork.
    folders = {}
    for config in dict.fromkeys(config for config, _ in rows):
        subprocess.run([sys.executable, __file__, "--prepare", config, "--work", str(args.work)]
                       + (["--sd-folder", str(args.sd_folder)] if args.sd_folder else []), check=True)
        folders[config] = _config_dir(args.work, config)
    environment = {"cpu": _cpu_model(), "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
                   "threads": THREADS, "versions": versions, "command": " ".join(sys.argv)}
    print(json.dumps(environment), file=sys.stderr)

    measurements = []  # (config, batch, round, engine, report)
    total = len(rows) * args.rounds * len(engines)
    done, started = 0, time.time()
    for round_index in range(args.rounds):
        for config, batch in rows:
            warmup, runs = _budget(config, batch)
            shift = round_index % len(engines)
            for engine in engines[shift:] + engines[:shift]:
                report = run_engine(engine, config, folders[config], batch, warmup, runs, args.skipstep)
                done += 1
                if report is None:
                    continue
                measurements.append({"config": config, "batch": batch, "round": round_index, "engine": engine} | report)
                elapsed = time.time() - started
                print(f"round {round_index + 1}/{args.rounds} {config}:{batch} {engine}: {batch / report['median_s']:.2f} "
                      f"images/s, {report['peak_rss_mib']:.0f} MiB  [{done}/{total}, ETA "
                      f"{elapsed / done * (total - done):.0f} s]", file=sys.stderr)

    print(f"\nCPU {environment['cpu']}, OPENBLAS_CORETYPE={environment['OPENBLAS_CORETYPE'] or 'unset'}, "
          f"{THREADS} threads, {args.rounds} interleaved rounds (images/s: median over rounds; "
          f"ratios: median of per-round ratios; RSS: largest peak)\n")
    names = {"pytorch": "PyTorch", "onnxruntime": "ONNX Runtime", "openvino": "OpenVINO f32", "skipstep": "skipstep"}
    header = "| config | batch | " + " | ".join(names[e] for e in engines)
    peers = [e for e in ("onnxruntime", "openvino") if e in engines]
    if "skipstep" in engines and peers:
        header += " | vs best of ORT/OpenVINO"
    if "skipstep" in engines and "pytorch" in engines:
        header += " | vs PyTorch"
    header += " | peak RSS MiB (" + ", ".join(names[e] for e in engines) + ") |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for config, batch in rows:
        per = {e: [m for m in measurements if m["config"] == config and m["batch"] == batch and m["engine"] == e]
               for e in engines}
        by_round = {e: {m["round"]: batch / m["median_s"] for m in per[e]} for e in engines}
        cells = [f"{statistics.median(by_round[e].values()):.2f}" if per[e] else "—" for e in engines]
        row_peers = [p for p in peers if per[p]]
        if "skipstep" in engines and peers:
            if row_peers:
                ratios = [by_round["skipstep"][r] / max(by_round[p][r] for p in row_peers) for r in range(args.rounds)]
                cells.append(f"**{statistics.median(ratios):.2f}×**")
            else:
                cells.append("—")
        if "skipstep" in engines and "pytorch" in engines:
            ratios = [by_round["skipstep"][r] / by_round["pytorch"][r] for r in range(args.rounds)]
            cells.append(f"{statistics.median(ratios):.2f}×")
        cells.append(", ".join(f"{max(m['peak_rss_mib'] for m in per[e]):.0f}" if per[e] else "—" for e in engines))
        print(f"| {config} | {batch} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({"environment": environment, "measurements": measurements}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
