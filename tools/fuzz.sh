#!/bin/sh
# Builds the libFuzzer targets (fuzz/) with clang + ASan + UBSan and runs each for SECONDS
# (default 20; give more for a real hunt: the nightly run gives 60). Fails on the first crash,
# leak, sanitizer report or broken contract, leaving the reproducer in BUILD/fuzz/artifacts/.
#   tools/fuzz.sh [SECONDS] [TARGET...]
#   tools/fuzz.sh --replay [TARGET...]
# --replay runs every input of fuzz/corpus/<target>/ once and explores nothing: a regression run
# that cannot flake, which is what CI runs. Each finding goes into fuzz/corpus/<target>/ with its
# fix.
# FUZZ_BUILD (default build-fuzzers) is the build directory. Corpora grow in BUILD/fuzz/corpus/
# (a copy of the seeds in fuzz/corpus/<target>/, which stay as they are).
# Reproduce a crash: BUILD/fuzz/fuzz_<target> BUILD/fuzz/artifacts/crash-...
set -eu
cd "$(dirname "$0")/.."
REPLAY=0
if [ "${1:-}" = --replay ]; then
  REPLAY=1
  shift
  SECONDS_EACH=0
else
  SECONDS_EACH=${1:-20}
  [ $# -gt 0 ] && shift
fi
BUILD=${FUZZ_BUILD:-build-fuzzers}
TARGETS=${*:-}
command -v clang >/dev/null || { echo "fuzz.sh: needs clang (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

if [ ! -f "$BUILD/build.ninja" ]; then
  CC=clang meson setup "$BUILD" -Dfuzz=true -Dtests=false \
    -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
[ -n "$TARGETS" ] || TARGETS=$(cd fuzz/corpus && ls)
# Only the fuzz targets: the rest of the tree is built and tested by tools/test.sh.
ninja -C "$BUILD" $(for t in $TARGETS; do echo "fuzz/fuzz_$t"; done) >"$BUILD/fuzz-build.log" 2>&1 ||
  { cat "$BUILD/fuzz-build.log" >&2; exit 2; }

# UBSan findings are errors here, not just messages.
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1

mkdir -p "$BUILD/fuzz/artifacts"
failed=""
for t in $TARGETS; do
  exe="$BUILD/fuzz/fuzz_$t"
  [ -x "$exe" ] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
  log="$BUILD/fuzz/$t.log"
  if [ "$REPLAY" = 1 ]; then
    # -runs=0 with a directory: each input once, nothing new
    corpus=fuzz/corpus/$t
    run="-runs=0"
    printf '%-12s %3s inputs ... ' "$t" "$(ls "$corpus" | wc -l)"
  else
    corpus="$BUILD/fuzz/corpus/$t"
    mkdir -p "$corpus"
    cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
    run="-max_total_time=$SECONDS_EACH"
    printf '%-12s %3s s ... ' "$t" "$SECONDS_EACH"
  fi
  if "$exe" "$run" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
      -print_final_stats=1 -artifact_prefix="$BUILD/fuzz/artifacts/$t-" "$corpus" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "ok ($runs runs, $cov)"
  else
    echo "FAILED (log: $log)"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|contract broken|artifact_prefix|Test unit written)' "$log" | head -8
    failed="$failed $t"
  fi
done
if [ -n "$failed" ]; then
  echo "fuzz.sh: crashes in:$failed" >&2
  exit 1
fi
