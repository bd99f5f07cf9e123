#!/usr/bin/env bash
# Re-samples one cell of each committed sweep under docs/results/ with the current build and checks
# that its preview.npy is byte-identical and its metrics equal the committed result.json (the
# sampling and scoring paths reproduce the committed numbers, not just the reports).
#
#   swift build -c release && bash tools/resample_committed_cells.sh [SWEEP_DIR...]
#
# The cell taken from each sweep is its first at the fewest steps (the cheapest); pass
# CELL=sampler:steps[:cutoff] to choose another for a single sweep. Needs dataset-fashion-mnist
# (reference features, the fashion-gmm fit). Bit-identity holds on the CPU kind the sweep was made
# on; OpenBLAS kernels of other CPUs may differ in the last bits (SWEEPS.md, "reuse").
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SKIPSTEP:-.build/release/skipstep}
dirs=("$@"); [ ${#dirs[@]} -gt 0 ] || dirs=(docs/results/*/)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
status=0
for dir in "${dirs[@]}"; do
  dir=${dir%/}
  read -r cell args < <(python3 - "$dir" "${CELL:-}" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1] + "/sweep.json"))
results = json.load(open(sys.argv[1] + "/results.json"))["cells"]
if sys.argv[2]:
    parts = sys.argv[2].split(":")
    pick = next(c for c in results if c["sampler"] == parts[0] and c["steps"] == int(parts[1])
                and (len(parts) < 3 or c.get("cutoff") == int(parts[2])))
else:
    pick = min(results, key=lambda c: (c["steps"], results.index(c)))
cell = pick["sampler"] + "-" + str(pick["steps"]) + (f"-tc{pick['cutoff']}" if pick.get("cutoff") is not None else "")
args = ["--model", spec["model"], "--samplers", pick["sampler"], "--steps", str(pick["steps"]),
        "--count", str(pick["count"]), "--seed", str(spec["seed"]), "--batch", str(spec["batch"]), "--rng", spec["rng"],
        "--spacing", spec["spacing"], "--metrics", ",".join(spec["metrics"]), "--reference", spec["reference"]]
if pick.get("cutoff") is not None: args += ["--cutoffs", str(pick["cutoff"])]
if not spec.get("quantize"): args += ["--no-quantize"]  # sweeps without the key scored raw floats
print(cell, " ".join(args))
PY
)
  out="$work/$(basename "$dir")"
  echo "== $dir: cell $cell" >&2
  # shellcheck disable=SC2086
  "$bin" sweep $args --out "$out" >/dev/null
  if cmp -s "$dir/cells/$cell/preview.npy" "$out/cells/$cell/preview.npy"; then echo "   preview.npy identical" >&2
  else echo "   preview.npy DIFFERS" >&2; status=1; fi
  python3 - "$dir/cells/$cell/result.json" "$out/cells/$cell/result.json" <<'PY' || status=1
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
# Intervals (m_ci) are new: compare the values the committed cells have.
values = lambda m: {k: v for k, v in m.items() if not k.endswith("_ci")}
same = values(a["metrics"]) == values(b["metrics"]) and all(a[k] == b[k] for k in ("sampler", "steps", "nfe", "count"))
print("   metrics " + ("identical: " if same else "DIFFER: ") + json.dumps(b["metrics"], sort_keys=True), file=sys.stderr)
if not same:
    print("   committed: " + json.dumps(a["metrics"], sort_keys=True), file=sys.stderr)
sys.exit(0 if same else 1)
PY
done
exit $status
