#!/usr/bin/env bash
# libFuzzer (+ AddressSanitizer) builds of skipstep's parsers, issue 22.
#   tools/fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags]
# TARGET: png npy npz idx safetensors unet-config. The corpus lives in .build/fuzz/corpus/TARGET
# (seeded from Tests/Fixtures, never written back there); crashers land in .build/fuzz/crashes/.
# Commit a crasher under Tests/Fixtures/fuzz/TARGET/ and add it to the parser's tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: tools/fuzz/run.sh png|npy|npz|idx|safetensors|unet-config [seconds]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
work=.build/fuzz
mkdir -p "$work/src" "$work/corpus/$target" "$work/crashes/$target"
media=(Sources/Media/*.swift)
case $target in
  png) flag=FUZZ_PNG; sources=("${media[@]}"); seeds=(Tests/Fixtures/media/png/*.png) ;;
  npy) flag=FUZZ_NPY; sources=("${media[@]}"); seeds=(Tests/Fixtures/media/npy/*.npy Tests/Fixtures/metrics/npz/*.npy) ;;
  npz) flag=FUZZ_NPZ; sources=("${media[@]}"); seeds=(Tests/Fixtures/metrics/npz/*.npz) ;;
  idx) flag=FUZZ_IDX; sources=("${media[@]}"); seeds=(Tests/Fixtures/media/idx/*) ;;
  safetensors|unet-config)
    # Models files import Media; compiled into one module here, so drop the import.
    for f in Sources/Models/SafeTensors.swift Sources/Models/UNet/UNet2DConfig.swift Sources/Models/UNet/ConfigDecoding.swift; do
      sed '/^import Media$/d' "$f" > "$work/src/$(basename "$f")"
    done
    if [ "$target" = safetensors ]; then
      flag=FUZZ_SAFETENSORS; sources=("${media[@]}" "$work/src/SafeTensors.swift")
      seeds=(Tests/Fixtures/models/reference.safetensors)
    else
      flag=FUZZ_UNET_CONFIG; sources=("${media[@]}" "$work/src/UNet2DConfig.swift" "$work/src/ConfigDecoding.swift")
      seeds=(Tests/Fixtures/unet/*/config.json)
    fi ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
binary=$work/$target-fuzzer
swiftc -sanitize=fuzzer,address -parse-as-library -module-name SkipstepFuzz -D "$flag" -O \
  -I Sources/CZlib -lz "${sources[@]}" tools/fuzz/Harness.swift -o "$binary" 2>&1 | grep -v "warning:" || true
i=0
for seed in "${seeds[@]}"; do cp "$seed" "$work/corpus/$target/seed-$i"; i=$((i + 1)); done
# Small inputs keep the safetensors harness fast (a large header runs at ~50 exec/s under ASan).
[ "$target" = safetensors ] && set -- -max_len=8192 "$@"
exec nice "$binary" -max_total_time="$seconds" -artifact_prefix="$work/crashes/$target/" -print_final_stats=1 \
  -rss_limit_mb=4096 "$@" "$work/corpus/$target"
