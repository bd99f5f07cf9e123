#!/usr/bin/env bash
# Installs skipstep under PREFIX: the binary as PREFIX/bin/skipstep, the shipped models (the default
# fashion-ddpm UNet, the Fashion-MNIST classifier, their cards and figures) under
# PREFIX/share/skipstep/models, where the binary looks for them relative to its own location.
#
#   tools/install.sh PREFIX                   # swift build -c release --static-swift-stdlib, then copy
#   tools/install.sh --binary PATH PREFIX     # install an already built binary (tests, CI)
#   tools/install.sh --scratch-path DIR PREFIX  # build in DIR instead of .build
#
# The release build links the Swift runtime statically, so the installed binary needs only the Debian
# libraries of the README's install line (OpenBLAS, zlib, cairo, a font). Fashion-MNIST stays where
# Debian puts it (/usr/share/datasets/fashion-mnist, or $SKIPSTEP_FASHION_MNIST_DIR). Reinstalling
# replaces the previous binary and models; each is copied under a temporary name and renamed.
set -euo pipefail

usage() { echo "usage: tools/install.sh [--binary PATH] [--scratch-path DIR] PREFIX" >&2; exit 2; }
binary=""
scratch=()
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) [ $# -ge 2 ] || usage; binary="$2"; shift 2 ;;
        --scratch-path) [ $# -ge 2 ] || usage; scratch=(--scratch-path "$2"); shift 2 ;;
        -h|--help) usage ;;
        -*) echo "tools/install.sh: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[ $# -eq 1 ] || usage
prefix="$1"
repo="$(cd "$(dirname "$0")/.." && pwd)"

if [ -z "$binary" ]; then
    (cd "$repo" && swift build -c release --static-swift-stdlib --product skipstep "${scratch[@]}")
    binary="$(cd "$repo" && swift build -c release --static-swift-stdlib "${scratch[@]}" --show-bin-path)/skipstep"
fi
[ -x "$binary" ] || { echo "tools/install.sh: $binary is not an executable skipstep binary" >&2; exit 1; }
[ -f "$repo/models/fashion-ddpm-28/model_index.json" ] || { echo "tools/install.sh: $repo/models is incomplete" >&2; exit 1; }

mkdir -p "$prefix/bin" "$prefix/share/skipstep"
prefix="$(cd "$prefix" && pwd)"
cp "$binary" "$prefix/bin/.skipstep.new"
chmod 755 "$prefix/bin/.skipstep.new"
mv -f "$prefix/bin/.skipstep.new" "$prefix/bin/skipstep"

share="$prefix/share/skipstep"
rm -rf "$share/.models.new" "$share/.models.old"
cp -R "$repo/models" "$share/.models.new"
[ -e "$share/models" ] && mv "$share/models" "$share/.models.old"
mv "$share/.models.new" "$share/models"
rm -rf "$share/.models.old"

echo "installed $prefix/bin/skipstep ($("$prefix/bin/skipstep" --version)) and $share/models" >&2
