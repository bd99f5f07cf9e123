#!/usr/bin/env bash
# Issue 21's 50-step network tune ranked by KID instead of FID (docs/RESULTS.md §3): the FID-ranked run
# of tools/tune_acceptance.sh dropped skipped-step, the best cell at 2 000 samples, in its first round
# (FID at 200 samples is dominated by its small-sample bias; KID's estimator is unbiased). Same
# successive halving (11 candidates, 200 → 400 samples, the best fifth kept), then the same check: the
# pick at 2 000 samples beside the ablation's best cell (skipped-step = mix:cutoff=0), both scored by FID.
#
#   SKIPSTEP=/path/to/release/skipstep bash tools/tune_network_kid.sh [STEPS [BEST]]
#
# STEPS defaults to 50; BEST is the committed cutoff ablation's best cell at STEPS as a Mix cutoff
# (default 0, skipped-step, the best at 50 steps; at 25 steps it is t_c = 100, which samples as
# tune's grid point 125: no 25-step timestep lies in [100, 125)).
#
# Outputs: docs/results/tune-network-kid-N/ and docs/results/tune-check-network-kid-N/. The check copies
# the pick's round-2 chunks and, when present, the best cell's chunks of tune-check-network-N (the same
# samples: sample i depends only on seed + i). Resumable: rerun the same command.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SKIPSTEP:-.build/release/skipstep}
n=${1:-50} best_tc=${2:-0}
tune=docs/results/tune-network-kid-$n check=docs/results/tune-check-network-kid-$n
"$bin" tune --model fashion-ddpm --steps "$n" --metric kid_mean --reference fashion-mnist:test --network fmnist \
  --family cutoff --start-count 200 --max-count 2000 --keep 0.2 --batch 200 --seed 0 --out "$tune"
read -r picked last < <(python3 - "$tune/tuned.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
print(t["spec"], max(c["round"] for c in t["cells"]))
PY
)
id=$(python3 -c 'import re, sys
m = re.fullmatch(r"mix:cutoff=(\d+)", sys.argv[1])
print(f"mix-{sys.argv[2]}-tc{m.group(1)}" if m else sys.argv[1].replace(":", "_") + "-" + sys.argv[2])' "$picked" "$n")
best=mix-$n-tc$best_tc
if [ ! -e "$check/cells/$id/result.json" ]; then
  mkdir -p "$check/cells/$id" "$check/cells/$best"
  cp -n "$tune/round-$last/cells/$id"/chunk-* "$check/cells/$id/" 2>/dev/null || true
  cp -n "docs/results/tune-check-network-$n/cells/$best"/chunk-* "$check/cells/$best/" 2>/dev/null || true
fi
samplers=$picked; [ "$picked" = "mix:cutoff=$best_tc" ] || samplers="$picked,mix:cutoff=$best_tc"
"$bin" sweep --model fashion-ddpm --samplers "$samplers" --steps "$n" --count 2000 --seed 0 --batch 200 \
  --metrics fid,is --reference fashion-mnist:test --no-quantize --out "$check"
