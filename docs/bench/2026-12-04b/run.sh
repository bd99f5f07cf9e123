#!/bin/bash
# The runs of docs/PERFORMANCE.md's "Second run (2026-12-04, F(4×4, 3×3), mapped weights, spinning pool)":
# a quiet 2-vCPU AMD EPYC (AVX2/FMA, no AVX-512; OPENBLAS_CORETYPE unset, as this machine's
# environment has it), release build of the commit named in the note. SD_FOLDER: a full-size random
# SD 2.1-base pipeline folder (tools/make_sd_real_shapes.py DIR && tools/make_sd_bench_pipeline.py DIR
# gives DIR/pipeline); the 512² run wants its PNDM scheduler (2.1-base's).
set -e
cd "$(dirname "$0")/../../.."
P=${PYTHON:-python3}
OUT=docs/bench/2026-12-04b
BIN=${SKIPSTEP:-.build/release/skipstep}
$P tools/bench_runtimes.py --skipstep "$BIN" --rows cifar10:1,cifar10:16,small:1,small:16 --rounds 5 \
  --json $OUT/unet2d.json > $OUT/unet2d.md 2> $OUT/unet2d.err
$P tools/bench_runtimes.py --skipstep "$BIN" --rows adm64:1,adm64:4,sd-mid:2,sd-full:2 --rounds 3 \
  --sd-folder "$SD_FOLDER" --json $OUT/big.json > $OUT/big.md 2> $OUT/big.err
$P tools/time_sd_full.py "$SD_FOLDER" --time "$BIN" > $OUT/sd512.md 2> $OUT/sd512.err
