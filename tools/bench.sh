#!/bin/sh
# Benchmark (issue 5): the real daemon under lynx-sim against four distributors, and a baseline
# scan with pyftdi's I2cController the way the original Python plugin did it, in one invocation;
# prints each figure per poll and as a ratio daemon/baseline, then the targets, MET or MISSED.
#   tools/bench.sh [--short] [--readme] [BUILD_DIR]
#     --short   few polls (CI, about two minutes with the QEMU guest); the same figures, less
#               averaging
#     --readme  also replace the results block of docs/performance.md with this run
# Exits 0 when every target is met, 1 when one is missed, 2 when the benchmark could not run.
# Needs valgrind (callgrind) besides the packages of tools/setup-debian.sh.
set -eu
cd "$(dirname "$0")/.."
SHORT=""; README=""
while [ $# -gt 0 ]; do
  case "$1" in
    --short) SHORT="--short"; shift ;;
    --readme) README="--readme docs/performance.md"; shift ;;
    -*) echo "usage: tools/bench.sh [--short] [--readme] [BUILD_DIR]" >&2; exit 2 ;;
    *) break ;;
  esac
done
BUILD=${1:-build}
./tools/setup-debian.sh base vm
command -v valgrind >/dev/null || { echo "bench: valgrind is missing (apt-get install valgrind)" >&2; exit 2; }
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" >/dev/null
# shellcheck disable=SC2086
exec /usr/bin/python3 tools/bench.py --build "$BUILD" $SHORT $README
