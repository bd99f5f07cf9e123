#!/bin/bash
# docs/PERFORMANCE.md's "Second run", the SD rows again after e1fb5de (Winograd weights packed 48 output
# channels at a time; the text encoder released once the prompts are encoded): the half-width UNet
# row (3 rounds, peak RSS against PyTorch's) and one full-size 512² PNDM CFG run in diffusers and in
# skipstep. Same machine and setup as docs/bench/2026-12-04b/run.sh; SD_FOLDER as there (PNDM).
set -e
cd "$(dirname "$0")/../../.."
P=${PYTHON:-python3}
OUT=docs/bench/2026-12-04c
BIN=${SKIPSTEP:-.build/release/skipstep}
$P tools/bench_runtimes.py --skipstep "$BIN" --rows sd-mid:2 --rounds 3 --sd-folder "$SD_FOLDER" \
  --json $OUT/sd-mid.json > $OUT/sd-mid.md 2> $OUT/sd-mid.err
$P tools/time_sd_full.py "$SD_FOLDER" --time "$BIN" > $OUT/sd512.md 2> $OUT/sd512.err
