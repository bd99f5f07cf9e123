#!/usr/bin/env bash
# docs/RESULTS.md, "Quality per NFE": the FID of a cell's first COUNT (500) samples, from its chunks (which
# are not committed: run the sweep that made the cell first); nothing is sampled here. Three uses:
# - the best 25-NFE setting's first 500 samples, set against the network sweep's 500-sample DDPM-1000
#   cell at equal counts (the default CELL_DIR, written by tools/tune_acceptance.sh);
# - the first 500 samples of the 2 000-sample DDPM-1000 cell (docs/results/ddpm-1000/cells/ddpm-1000,
#   written by tools/quality_per_nfe_sweeps.sh), which are the network sweep's 500 (sample i depends
#   only on seed + i), so its committed FID 22.11 must come back;
# - metrics a sweep did not compute, on all of a cell's samples: KID of the 25-NFE η cells
#   (`COUNT=2000 METRICS=fid,kid bash tools/quality_per_nfe.sh docs/results/nfe-25/cells/ddim_eta=0.5-25`).
#
#   SKIPSTEP=/path/to/release/skipstep [COUNT=500] [METRICS=fid,is] bash tools/quality_per_nfe.sh [CELL_DIR]
#
# CELL_DIR defaults to docs/results/tune-check-network-25/cells/mix-25-tc125 (Mix, k_c = 22 skipped
# steps of 25: the committed cutoff ablation's best 25-step cell, t_c = 100, and tune's pick).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SKIPSTEP:-.build/release/skipstep}
py=${PYTHON:-/work/venv-engine/bin/python}
cell=${1:-docs/results/tune-check-network-25/cells/mix-25-tc125}
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
count=${COUNT:-500}
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "quality_per_nfe.sh: COUNT must be a positive whole number of samples, got '$count'" >&2; exit 2; }
[ -d "$cell" ] || { echo "quality_per_nfe.sh: $cell is not a cell directory (run the sweep that makes it first)" >&2; exit 2; }
"$py" - "$cell" "$out/first.npy" "$count" <<'PY'
import glob, re, sys
import numpy as np  # numpy 2.4.6
count = int(sys.argv[3])
chunks = sorted(glob.glob(sys.argv[1] + "/chunk-*.npy"), key=lambda p: int(re.search(r"chunk-(\d+)-", p).group(1)))
parts, n = [], 0
for p in chunks:
    lo, hi = map(int, re.search(r"chunk-(\d+)-(\d+)\.npy", p).groups())
    if lo != n:
        sys.exit(f"{p}: expected a chunk starting at sample {n}")
    parts.append(np.load(p)); n = hi
    if n >= count:
        break
if n < count:
    sys.exit(f"{sys.argv[1]}: only {n} samples in chunks")
x = np.concatenate(parts)[:count]
np.save(sys.argv[2], x)
print(f"first {count} samples of {sys.argv[1]}: {x.shape} {x.dtype}", file=sys.stderr)
PY
# The committed cells scored raw floats (no "quantize" in their sweep.json): the same here.
"$bin" eval "$out/first.npy" --reference fashion-mnist:test --metrics "${METRICS:-fid,is}" --no-quantize
