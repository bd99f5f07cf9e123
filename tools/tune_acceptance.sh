#!/usr/bin/env bash
# Issue 21's acceptance runs for `skipstep tune` (docs/RESULTS.md, "Tuning t_c"): the cutoff family on the
# exact oracle (ranked by the exact Fréchet distance) and on the default network (ranked by FID, and by
# KID: `network-kid`, tune's default since the FID-ranked 50-step run dropped the best cell in its first
# round) at 25 and 50 steps, then a 2 000-sample check sweep of each pick, next to the best cell of the
# committed cutoff ablation re-sampled (which gives that cell the interval the committed one lacks). Both
# checks are scored by FID.
#
#   SKIPSTEP=/path/to/release/skipstep [STEPS="25 50"] [SEED=0] bash tools/tune_acceptance.sh [oracle|network|network-kid ...]
#
# Outputs: docs/results/tune-KIND-{25,50}/ (tune.json, tuned.json, round-R/ sweeps) and
# docs/results/tune-check-KIND-{25,50}/ (ordinary sweeps); with SEED=S ≠ 0 the tune draws its samples
# from seed S (a replicate of the search; sample i uses seed S + i, so S = 1 000 000 as for
# oracle-cutoff-replicate shares none with seed 0's) into tune-KIND-N-seedS/, and the check, still on
# seed 0's 2 000 samples like the ablation, goes to tune-check-KIND-N-seedS/. Resumable: rerun the same command. A
# network-kid check copies the chunks its cells share with the seed-0 network and network-kid checks
# (sample i depends only on seed + i) when they are present.
# Tune options (why: docs/RESULTS.md): 11 candidates (DDIM and 10 handover points), 200 samples each in
# round 1, the best fifth (3) kept, 400 samples in round 2, which leaves one. Cost: 2 800 samples × NFE,
# 15.6 % of the committed ablation's 9 cells × 2 000 samples at that step count; 4 400 × NFE (24.4 %) with
# the check's 1 600 new samples of the pick (its first 400 are round 2's chunks, copied).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SKIPSTEP:-.build/release/skipstep}
kinds=("$@"); [ ${#kinds[@]} -gt 0 ] || kinds=(oracle network network-kid)
seed=${SEED:-0}
TUNE_OPTS=(--family cutoff --start-count 200 --max-count 2000 --keep 0.2 --batch 200 --seed "$seed")

# The committed ablation's best cell at each step count, spelled as tune's grid spells the same sampler
# (the same k_c skipped steps): oracle-cutoff mix t_c = 800 at 25 (k_c = 5) and 50 (k_c = 10);
# network-cutoff mix t_c = 100 at 25 (k_c = 22 = tune's mix:cutoff=125), skipped-step at 50 (= tune's
# mix:cutoff=0, all 50 steps skipped: the same samples bit for bit).
best_committed() {
  case "$1-$2" in
    oracle-25) echo "mix:cutoff=800" ;;
    oracle-50) echo "mix:cutoff=800" ;;
    network-25 | network-kid-25) echo "mix:cutoff=125" ;;
    network-50 | network-kid-50) echo "mix:cutoff=0" ;;
  esac
}

for kind in "${kinds[@]}"; do
  for n in ${STEPS:-25 50}; do
    suffix=""; [ "$seed" = 0 ] || suffix=-seed$seed
    tune=docs/results/tune-$kind-$n$suffix check=docs/results/tune-check-$kind-$n$suffix
    case "$kind" in
      oracle) model=fashion-gmm; score=(--metric oracle_frechet); metrics="" ;;
      network | network-kid)
        rank=fid; [ "$kind" = network ] || rank=kid_mean
        model=fashion-ddpm; score=(--metric "$rank" --reference fashion-mnist:test --network fmnist); metrics="fid,is" ;;
      *) echo "tune_acceptance.sh: unknown kind '$kind' (expected oracle, network or network-kid)" >&2; exit 2 ;;
    esac
    echo "== tune $kind $n steps ($(date -u +%T))" >&2
    start=$(date +%s)
    "$bin" tune --model "$model" --steps "$n" "${score[@]}" "${TUNE_OPTS[@]}" --out "$tune"
    echo "   tune wall time $(( $(date +%s) - start )) s" >&2
    # The check sweep: the pick and the committed best cell (once if they are the same sampler).
    read -r picked last < <(python3 - "$tune/tuned.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
print(t["spec"], max(c["round"] for c in t["cells"]))
PY
)
    best=$(best_committed "$kind" "$n")
    samplers=$picked; [ "$best" = "$picked" ] || samplers="$picked,$best"
    # Round `last`'s chunks of the pick are its first samples when the tune drew from seed 0: copy them
    # (sample i depends only on seed + i); network-kid also takes the seed-0 checks' chunks of the same cells.
    cell_id() { python3 -c 'import re, sys
m = re.fullmatch(r"mix:cutoff=(\d+)", sys.argv[1])
print(f"mix-{sys.argv[2]}-tc{m.group(1)}" if m else sys.argv[1].replace(":", "_").replace("/", "_") + "-" + sys.argv[2])' "$1" "$n"; }
    sources=()
    [ "$seed" = 0 ] && sources+=("$tune/round-$last/cells/$(cell_id "$picked")")
    if [ "$kind" = network-kid ]; then
      for dir in docs/results/tune-check-network-$n docs/results/tune-check-network-kid-$n; do
        [ "$dir" = "$check" ] || sources+=("$dir/cells/$(cell_id "$picked")" "$dir/cells/$(cell_id "$best")")
      done
    fi
    for src in "${sources[@]}"; do
      dst=$check/cells/$(basename "$src")
      # a preview only travels with the chunks it was drawn from
      compgen -G "$src/chunk-*" > /dev/null && [ ! -e "$dst/result.json" ] || continue
      mkdir -p "$dst"
      for f in "$src"/chunk-* "$src"/preview.npy; do [ -e "$f" ] && cp -n "$f" "$dst/"; done
    done
    echo "== check $kind $n steps: $samplers ($(date -u +%T))" >&2
    start=$(date +%s)
    "$bin" sweep --model "$model" --samplers "$samplers" --steps "$n" --count 2000 --seed 0 --batch 200 \
      --metrics "$metrics" --reference fashion-mnist:test --no-quantize --out "$check"
    echo "   check wall time $(( $(date +%s) - start )) s" >&2
  done
done
echo "== done ($(date -u +%T))" >&2
