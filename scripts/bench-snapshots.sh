#!/usr/bin/env bash
# Snapshot create/remove latency: `rbd snap create|rm` (librbd) vs `rbd-rs snap create|rm`,
# each a whole process (connect + open + operation + close), N rounds on one image with
# librbd's default features. Usage: CEPH_CONF=... scripts/bench-snapshots.sh [RBD_RS] [N]
set -euo pipefail
RBD_RS=${1:-target/release/rbd-rs}
N=${2:-10}
IMG=bench-snap-$$
rbd create --size 1G "$IMG"
trap 'rbd snap purge "$IMG" >/dev/null 2>&1 || true; rbd rm --no-progress "$IMG" >/dev/null 2>&1 || true' EXIT
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(( (t1 - t0) / 1000000 )); }
run() { # label, tool...
  local label=$1; shift
  local c=0 r=0
  for i in $(seq "$N"); do
    c=$(( c + $(ms "$@" snap create --no-progress "$IMG@s$i") ))
  done
  for i in $(seq "$N"); do
    r=$(( r + $(ms "$@" snap rm --no-progress "$IMG@s$i") ))
  done
  printf '%-8s create %4d ms/op   remove %4d ms/op   (%d rounds)\n' "$label" $(( c / N )) $(( r / N )) "$N"
}
run rbd rbd
run rbd-rs "$RBD_RS" -c "$CEPH_CONF"
