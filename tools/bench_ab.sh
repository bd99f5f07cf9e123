#!/bin/bash
# Interleaved A/B timing of two skipstep binaries on one model (docs/PERFORMANCE.md, issue 17):
# each round runs `A bench …` then `B bench …` back to back, so load swings on a shared machine
# hit both; prints each binary's per-round evaluations/s, their medians and the median of the
# per-round ratios B/A.
#
#   tools/bench_ab.sh A_BINARY B_BINARY MODEL BATCH RUNS ROUNDS
#   e.g. tools/bench_ab.sh /tmp/base/skipstep .build/release/skipstep /tmp/bigmodels/small-28-random 1 100 7
set -euo pipefail
a=$1; b=$2; model=$3; batch=$4; runs=$5; rounds=$6
for _ in $(seq 1 "$rounds"); do
  for bin in "$a" "$b"; do
    "$bin" bench --model "$model" --batch "$batch" --runs "$runs" --warmup 2 --json 2>/dev/null | tail -1
  done
done | python3 -c '
import json, statistics, sys
rows = [json.loads(line) for line in sys.stdin]
a = [r["evaluations_per_s"] for r in rows[0::2]]
b = [r["evaluations_per_s"] for r in rows[1::2]]
ratios = [y / x for x, y in zip(a, b)]
print("A median %.2f evaluations/s:" % statistics.median(a), " ".join("%.1f" % v for v in a))
print("B median %.2f evaluations/s:" % statistics.median(b), " ".join("%.1f" % v for v in b))
print("B/A median of per-round ratios %.3f:" % statistics.median(ratios), " ".join("%.2f" % v for v in ratios))
print("OpenBLAS kernel", sorted({r["blas_core"] for r in rows}))
'
