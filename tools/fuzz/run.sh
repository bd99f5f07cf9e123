#!/usr/bin/env bash
# libFuzzer (+ AddressSanitizer) builds of skipstep's parsers, issue 22.
#   tools/fuzz/run.sh TARGET [SECONDS] [extra libFuzzer flags]
# TARGET: png npy npz idx safetensors unet-config sampler-spec sweep-json scheduler-config model-index
# sweep-chunk gmm-file clip-tokenizer. The corpus lives in .build/fuzz/corpus/TARGET
# (seeded from Tests/Fixtures, never written back there); crashers land in .build/fuzz/crashes/.
# Commit a crasher under Tests/Fixtures/fuzz/TARGET/ and add it to the parser's tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${1:?usage: tools/fuzz/run.sh png|npy|npz|idx|safetensors|unet-config|sampler-spec|sweep-json|scheduler-config|model-index|sweep-chunk|gmm-file|clip-tokenizer [seconds]}
seconds=${2:-60}
shift $(( $# >= 2 ? 2 : 1 ))
work=.build/fuzz
extra=()
mkdir -p "$work/src" "$work/corpus/$target" "$work/crashes/$target"
# Media's parsers and the Files helpers they use, as one module (imports of Files dropped); the
# drawing and JPEG files need cairo and libjpeg-turbo and parse nothing fuzzed here.
mkdir -p "$work/media"
rm -f "$work/media"/*.swift
for f in Sources/Media/*.swift Sources/Files/*.swift; do
  case $(basename "$f") in ImageGrid.swift|JPEG.swift|Plot*.swift) continue ;; esac
  sed '/^import Files$/d' "$f" > "$work/media/$(basename "$f")"
done
media=("$work"/media/*.swift)
case $target in
  png) flag=FUZZ_PNG; sources=("${media[@]}"); seeds=(Tests/Fixtures/media/png/*.png) ;;
  npy) flag=FUZZ_NPY; sources=("${media[@]}"); seeds=(Tests/Fixtures/media/npy/*.npy Tests/Fixtures/metrics/npz/*.npy) ;;
  npz) flag=FUZZ_NPZ; sources=("${media[@]}"); seeds=(Tests/Fixtures/metrics/npz/*.npz) ;;
  idx) flag=FUZZ_IDX; sources=("${media[@]}"); seeds=(Tests/Fixtures/media/idx/*) ;;
  safetensors|unet-config)
    # Models files import Media; compiled into one module here, so drop the import.
    for f in Sources/Models/SafeTensors.swift Sources/Models/UNet/UNet2DConfig.swift Sources/Models/UNet/ConfigDecoding.swift; do
      sed '/^import Media$/d; /^import Files$/d' "$f" > "$work/src/$(basename "$f")"
    done
    if [ "$target" = safetensors ]; then
      flag=FUZZ_SAFETENSORS; sources=("${media[@]}" "$work/src/SafeTensors.swift")
      seeds=(Tests/Fixtures/models/reference.safetensors)
    else
      flag=FUZZ_UNET_CONFIG; sources=("${media[@]}" "$work/src/UNet2DConfig.swift" "$work/src/ConfigDecoding.swift")
      seeds=(Tests/Fixtures/unet/*/config.json)
    fi ;;
  sampler-spec)
    # The whole Diffusion module (the spec parser, spacings, plans): it imports only Foundation.
    module=Diffusion  # its sources qualify names with the module (Diffusion.linspace)
    flag=FUZZ_SAMPLER_SPEC; sources=(Sources/Diffusion/*.swift Sources/Diffusion/UpdateRules/*.swift)
    mkdir -p "$work/seeds/sampler-spec"; i=0
    for text in skip ddpm ddim:eta=0.5 mix:cutoff=291 'mix:cutoff=291:spacing=[list:999,500,1]' 'skip:spacing=[10,15,20]' \
                ddim:eta=1:eta-below=0:eta-cutoff=291 'dpmpp-2m:spacing=karras' 'ddpm:variance=fixed_large:clip=1' \
                'ddim:thresholding=0.995:thresholding-max=1.5:prediction=v_prediction' 'mix:skip-steps=3:spacing=[respace:ddim25]'; do
      printf '%s' "$text" > "$work/seeds/sampler-spec/$i"; i=$((i + 1))
    done
    seeds=("$work"/seeds/sampler-spec/*) ;;
  sweep-json)
    # sweep.json as SweepRunner reads it: SweepSpec (Sweep) with the spec parser (Diffusion) and
    # MetricSuite (Metrics, which needs Tensor and its C kernels): one module, imports dropped.
    for f in Sources/Sweep/SweepSpec.swift Sources/Sweep/SweepError.swift Sources/Metrics/*.swift $(find Sources/Tensor -name '*.swift'); do
      sed '/^import Diffusion$/d; /^import Metrics$/d; /^import Tensor$/d' "$f" > "$work/src/sweep-$(basename "$f")"
    done
    # SwiftPM writes the C target's module map; here we do.
    mkdir -p "$work/ckernels-module"
    printf 'module CKernels {\n  header "%s"\n  export *\n}\n' "$PWD/Sources/CKernels/include/ckernels.h" > "$work/ckernels-module/module.modulemap"
    clang -c -O2 -mavx2 -mfma -I Sources/CKernels/include Sources/CKernels/ckernels.c -o "$work/ckernels.o"
    flag=FUZZ_SWEEP_JSON; module=Diffusion
    extra=(-I Sources/CBLAS -I "$work/ckernels-module" "$work/ckernels.o" -lopenblas)
    sources=(Sources/Diffusion/*.swift Sources/Diffusion/UpdateRules/*.swift "$work"/src/sweep-*.swift)
    seeds=(Tests/Fixtures/fuzz/sweep-json-seeds/*.json) ;;
  scheduler-config|model-index)
    # The config readers as `--model DIR` runs them (Models' config decoding and the Files helpers
    # it uses); the scheduler also needs the whole Diffusion module to build its schedule and
    # bind its default sampler. One module, imports of Diffusion, Media and Files dropped.
    for f in Sources/Files/*.swift Sources/Models/UNet/UNet2DConfig.swift Sources/Models/UNet/ConfigDecoding.swift \
             Sources/Models/UNet/SchedulerConfig.swift Sources/Models/SchedulerSampling.swift Sources/Models/PipelineIndex.swift; do
      sed '/^import Diffusion$/d; /^import Media$/d; /^import Files$/d' "$f" > "$work/src/config-$(basename "$f")"
    done
    configs=("$work"/src/config-{SizeAndFileErrors,AtomicFile,SHA256,UNet2DConfig,ConfigDecoding}.swift)
    mkdir -p "$work/seeds/$target"
    if [ "$target" = scheduler-config ]; then
      flag=FUZZ_SCHEDULER_CONFIG; module=Diffusion  # Diffusion's sources qualify names with the module
      sources=(Sources/Diffusion/*.swift Sources/Diffusion/UpdateRules/*.swift "${configs[@]}"
               "$work"/src/config-{SchedulerConfig,SchedulerSampling}.swift)
      # The pipeline fixtures' scheduler configs, and the SD pipeline's (kept in its goldens).
      jq .scheduler_config Tests/Fixtures/sd/pipeline/goldens.json > "$work/seeds/$target/sd.json"
      printf '%s' '{"_class_name": "DPMSolverMultistepScheduler", "algorithm_type": "sde-dpmsolver++", "solver_order": 2, "timestep_spacing": "trailing", "beta_schedule": "squaredcos_cap_v2", "prediction_type": "v_prediction", "rescale_betas_zero_snr": true}' > "$work/seeds/$target/dpm.json"
      printf '%s' '{"_class_name": "PNDMScheduler", "trained_betas": [0.1, 0.2, 0.3, 0.4], "num_train_timesteps": 4, "set_alpha_to_one": false, "steps_offset": 1, "clip_sample": true, "clip_sample_range": 1.5, "thresholding": true, "variance_type": "learned_range"}' > "$work/seeds/$target/pndm.json"
      seeds=(Tests/Fixtures/unet/*/scheduler/scheduler_config.json "$work/seeds/$target"/*)
    else
      flag=FUZZ_MODEL_INDEX; sources=("${configs[@]}" "$work/src/config-PipelineIndex.swift")
      jq .model_index Tests/Fixtures/sd/pipeline/goldens.json > "$work/seeds/$target/sd.json"
      seeds=(Tests/Fixtures/unet/*/model_index.json "$work/seeds/$target"/*)
    fi ;;
  sweep-chunk)
    # A sweep chunk's .npy and .json as a resumed sweep reads them (SweepChunk, Sweep) with Media's
    # NPY reader and Files: one module, imports dropped. An input is the .json's bytes, a NUL byte,
    # then the .npy's bytes.
    for f in Sources/Sweep/SweepError.swift Sources/Sweep/SweepChunk.swift; do
      sed '/^import Media$/d; /^import Files$/d' "$f" > "$work/src/chunk-$(basename "$f")"
    done
    flag=FUZZ_SWEEP_CHUNK; sources=("${media[@]}" "$work"/src/chunk-*.swift)
    mkdir -p "$work/seeds/$target"; i=0
    for npy in Tests/Fixtures/fuzz/sweep-chunk-seeds/*.npy; do
      for json in '{"seconds": 1.25}' '{"seconds": 0}' '{"seconds": 3e2, "other": 1}'; do
        { printf '%s\0' "$json"; cat "$npy"; } > "$work/seeds/$target/$i"; i=$((i + 1))
      done
    done
    seeds=("$work/seeds/$target"/*) ;;
  gmm-file)
    # GaussianMixture.load (Models) on a safetensors file: the container, the skipstep-gmm
    # metadata, the content CRC-32 and the mixture's own checks (Cholesky of each covariance, in
    # Tensor). Diffusion, Tensor and its C kernels, Files and the three Models files: one module.
    for f in Sources/Models/SafeTensors.swift Sources/Models/GaussianMixture.swift Sources/Models/GaussianMixtureFile.swift \
             $(find Sources/Tensor -name '*.swift') Sources/Files/*.swift; do
      sed '/^import Diffusion$/d; /^import Tensor$/d; /^import Files$/d' "$f" > "$work/src/gmm-$(basename "$f")"
    done
    mkdir -p "$work/ckernels-module"
    printf 'module CKernels {\n  header "%s"\n  export *\n}\n' "$PWD/Sources/CKernels/include/ckernels.h" > "$work/ckernels-module/module.modulemap"
    clang -c -O2 -mavx2 -mfma -I Sources/CKernels/include Sources/CKernels/ckernels.c -o "$work/ckernels.o"
    flag=FUZZ_GMM_FILE; module=Diffusion
    extra=(-I Sources/CBLAS -I "$work/ckernels-module" "$work/ckernels.o" -lopenblas)
    sources=(Sources/Diffusion/*.swift Sources/Diffusion/UpdateRules/*.swift "$work"/src/gmm-*.swift)
    seeds=(Tests/Fixtures/fuzz/gmm-file-seeds/*.safetensors) ;;
  clip-tokenizer)
    # CLIPTokenizer (Models/CLIP, Foundation only) on a small tokenizer folder: the byte symbols and
    # the first 88 merges of the CLIP vocabulary, SD 2's special-token files. An input's first byte
    # picks the file it replaces (vocab.json, merges.txt, special_tokens_map.json,
    # tokenizer_config.json) or, for 4, makes the rest a prompt to encode with the intact folder.
    flag=FUZZ_CLIP_TOKENIZER; sources=(Sources/Models/CLIP/CLIPTokenizer.swift Sources/Models/CLIP/BytePairEncoding.swift)
    files=$work/clip-tokenizer-files; mkdir -p "$files" "$work/seeds/$target"
    jq -c 'with_entries(select(.value < 600 or .value >= 49406))' Tests/Fixtures/clip/vocab.json > "$files/vocab.json"
    head -n 89 Tests/Fixtures/clip/merges.txt > "$files/merges.txt"
    cp Tests/Fixtures/clip/vocab_layout/special_tokens_map.json Tests/Fixtures/clip/vocab_layout/tokenizer_config.json "$files/"
    i=0
    for name in vocab.json merges.txt special_tokens_map.json tokenizer_config.json; do
      { printf "\\x0$i"; cat "$files/$name"; } > "$work/seeds/$target/$name"; i=$((i + 1))
    done
    for text in 'a photograph of an astronaut riding a horse!' "<|endoftext|> ΟΔΟΣ café 東京 👩‍💻 it's" "$(printf 'cat %.0s' {1..90})"; do
      { printf '\x04'; printf '%s' "$text"; } > "$work/seeds/$target/prompt-$i"; i=$((i + 1))
    done
    seeds=("$work/seeds/$target"/*) ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
binary=$work/$target-fuzzer
swiftc -sanitize=fuzzer,address -parse-as-library -module-name "${module:-SkipstepFuzz}" -D "$flag" -O \
  -I Sources/CZlib -lz "${extra[@]}" "${sources[@]}" tools/fuzz/Harness.swift -o "$binary" 2>&1 | grep -v "warning:" || true
i=0
for seed in "${seeds[@]}"; do cp "$seed" "$work/corpus/$target/seed-$i"; i=$((i + 1)); done
# Small inputs keep the safetensors harness fast (a large header runs at ~50 exec/s under ASan).
[ "$target" = safetensors ] && set -- -max_len=8192 "$@"
exec nice "$binary" -max_total_time="$seconds" -artifact_prefix="$work/crashes/$target/" -print_final_stats=1 \
  -rss_limit_mb=4096 "$@" "$work/corpus/$target"
