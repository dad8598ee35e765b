#!/bin/sh
# The main job: the real daemon against simulated hardware on a private D-Bus, with the live state
# of the distributors on screen while a demo scenario blows a fuse, replaces it, and cuts and
# restores a busbar supply (fixtures/scenarios/demo.scn, repeating every 20 s).
#   tools/demo.sh [--seconds N] [SCENARIO]     (Ctrl-C ends it)
set -eu
cd "$(dirname "$0")/.."
SECONDS_ARG=""
if [ "${1:-}" = "--seconds" ]; then SECONDS_ARG="--seconds $2"; shift 2; fi
SCENARIO=${1:-fixtures/scenarios/demo.scn}
./tools/setup-debian.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

TMP=$(mktemp -d)
BUS_PID=""; SIM_PID=""; SETTINGS_PID=""
cleanup() {
  [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
  [ -n "$SETTINGS_PID" ] && kill "$SETTINGS_PID" 2>/dev/null && wait "$SETTINGS_PID" 2>/dev/null
  [ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dbus-daemon --config-file=tools/private-bus.conf --fork --print-address=3 --print-pid=4 \
  3>"$TMP/address" 4>"$TMP/pid"
BUS_PID=$(cat "$TMP/pid")
DBUS_SYSTEM_BUS_ADDRESS=$(head -n1 "$TMP/address")
export DBUS_SYSTEM_BUS_ADDRESS

STANDIN=build/tests/settings_standin/localsettings-standin
if [ -x "$STANDIN" ]; then
  "$STANDIN" --file "$TMP/settings.txt" & SETTINGS_PID=$!
fi
build/sim/lynx-sim --scenario "$SCENARIO" --control "$TMP/control.sock" -- \
  build/src/dbus-lynx-distributor -c fixtures/demo.ini 2>"$TMP/daemon.log" &
SIM_PID=$!
/usr/bin/python3 tools/lynx-watch.py $SECONDS_ARG com.victronenergy.battery.dbus_lynx_distributor_LYNX0001
echo "daemon log:"; cat "$TMP/daemon.log"
