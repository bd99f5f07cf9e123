#!/usr/bin/env bash
# docs/RESULTS.md §4, "Quality per NFE" (issue 21): the default network's DDPM-1000 row at 2 000
# samples, the 25-NFE samplers and spacings on the same 2 000 seeds, all with 95 % intervals, and the
# settings `skipstep tune` picks at 25 steps for the spacing of the best sampler there and for DDIM's η
# (KID-ranked as tune's default, with the acceptance runs' halving options; the cutoff family's picks are
# Mix's cells below).
# Options match the committed tune checks (batch 200, raw float samples as every committed network
# cell, seed 0); DDPM-1000 adds KID. Resumable: rerun the same command; the sweeps keep finished chunks.
#
#   SKIPSTEP=/path/to/release/skipstep bash tools/quality_per_nfe_sweeps.sh [ddpm-1000|tuned|nfe-25|all]
#
# Costs on a 2-vCPU machine (350–450 network evaluations per second at batch 200): ddpm-1000
# 2 000 × 1 000 = 2 M evaluations (75–95 min); tuned (1 000 + 1 600) samples × 25 = 65 000 (4 min);
# nfe-25 24 new cells × 2 000 × 25 = 1.2 M (45–60 min), and up to 2 more for the tuned picks.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SKIPSTEP:-.build/release/skipstep}
what=${1:-all}
common=(--model fashion-ddpm --count 2000 --seed 0 --batch 200
        --reference fashion-mnist:test --network fmnist --no-quantize)
if [ "$what" = ddpm-1000 ] || [ "$what" = all ]; then
  "$bin" sweep "${common[@]}" --metrics fid,is,kid --samplers ddpm --steps 1000 --out docs/results/ddpm-1000
fi
tuned_dirs=(docs/results/tune-spacing-dpmpp-2m-sde-25 docs/results/tune-eta-25)
if [ "$what" = tuned ] || [ "$what" = all ]; then
  tune=(--model fashion-ddpm --steps 25 --metric kid_mean --reference fashion-mnist:test --network fmnist
        --start-count 200 --max-count 2000 --keep 0.2 --batch 200 --seed 0)
  "$bin" tune "${tune[@]}" --family spacing --sampler dpmpp-2m-sde --out "${tuned_dirs[0]}"
  "$bin" tune "${tune[@]}" --family eta --out "${tuned_dirs[1]}"
fi
if [ "$what" = nfe-25 ] || [ "$what" = all ]; then
  # Mix at t_c = 125 (the FID-ranked tune's pick, sampling as the cutoff ablation's best 25-step cell,
  # t_c = 100) and at t_c = 0 (skipped-step: the KID-ranked tune's pick) are copied from the 25-step
  # tune check, which made them with these options (hence FID and IS only). Restart spends its 25
  # evaluations on its own Karras-σ Heun grid, so it takes no spacing. The most promising cells come
  # first (this order was set after the first five cells, which showed SDE-DPM-Solver++(2M) ahead):
  # the sweep scores each cell as it finishes, and a rerun may reorder the list.
  samplers=mix:cutoff=125,mix:cutoff=0,euler-ancestral,dpmpp-2m-sde,restart,skip:spacing=karras
  samplers+=,dpmpp-2m-sde:spacing=karras,dpmpp-2m-sde:spacing=logsnr,dpmpp-2m-sde:spacing=quadratic
  samplers+=,skip:spacing=quadratic,skip:spacing=logsnr
  samplers+=,euler-ancestral:spacing=karras,euler-ancestral:spacing=logsnr,euler-ancestral:spacing=quadratic
  samplers+=,ddim:eta=0.5,dpmpp-2m:spacing=karras,dpmpp-2m:spacing=logsnr,dpmpp-2m:spacing=quadratic,dpmpp-2m,ddim
  # The tuned picks join the list (once) when their tune has run.
  for dir in "${tuned_dirs[@]}"; do
    [ -e "$dir/tuned.json" ] || continue
    spec=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["spec"])' "$dir/tuned.json")
    [[ ",$samplers," == *",$spec,"* ]] || samplers+=",$spec"
  done
  # Added after the spacing tune picked trailing spacing for SDE-DPM-Solver++(2M): the same spacing
  # for the paper's sampler and the deterministic ones.
  samplers+=,skip:spacing=trailing,ddim:spacing=trailing,dpmpp-2m:spacing=trailing
  # Added after the η tune picked η = 1 (skipped-step's samples) while η = 0.5 scored better at 2 000
  # samples: the rest of the η grid between them.
  samplers+=,ddim:eta=0.4,ddim:eta=0.6,ddim:eta=0.8
  "$bin" sweep "${common[@]}" --metrics fid,is --samplers "$samplers" --steps 25 \
    --reuse docs/results/tune-check-network-kid-25 --out docs/results/nfe-25
fi
