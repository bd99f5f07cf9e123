#!/bin/bash
# The runs of docs/PERFORMANCE.md's "Against ONNX Runtime, OpenVINO and PyTorch (2026-12-04)", on a quiet
# 2-vCPU AMD EPYC (OPENBLAS_CORETYPE unset), release build of 5e19307's engine. SD_FOLDER: a full-size
# random SD 2.1-base pipeline folder (tools/make_sd_real_shapes.py DIR && tools/make_sd_bench_pipeline.py DIR
# gives DIR/pipeline; only its UNet is timed).
set -e
cd "$(dirname "$0")/../../.."
P=python3
$P tools/bench_runtimes.py --skipstep .build/release/skipstep --rows cifar10:1,cifar10:16,small:1,small:16 --rounds 5 --json docs/bench/2026-12-04/unet2d.json > docs/bench/2026-12-04/unet2d.md 2> docs/bench/2026-12-04/unet2d.err
$P tools/bench_runtimes.py --skipstep .build/release/skipstep --rows adm64:1,sd-mid:2,sd-full:2 --rounds 3 --sd-folder SD_FOLDER --json docs/bench/2026-12-04/big.json > docs/bench/2026-12-04/big.md 2> docs/bench/2026-12-04/big.err
