#!/bin/sh
# Runs a test that needs software from ../shared (next to the checkout), or skips it:
#   needs-shared.sh PATH COMMAND [ARG...]
# Without PATH the test is skipped (meson's exit code 77) with a message naming it; with CI=true
# it fails instead, so CI cannot skip it silently. (tests/scenario/harness.py: shared_path.)
path=$1
shift
if [ ! -e "$path" ]; then
    if [ "${CI:-}" = true ]; then
        echo "FAIL: $path is missing (../shared next to the checkout); CI=true, so this fails"
        exit 1
    fi
    echo "SKIP: $path is missing (../shared next to the checkout)"
    exit 77
fi
exec "$@"
