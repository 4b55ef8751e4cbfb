#!/usr/bin/env bash
# Configures and builds kfarm with CMake + Ninja into ./build (binaries in build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${KFARM_JOBS:-2}
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C build -j"$jobs" | grep -vE "^\[[0-9]+/[0-9]+\] " || true
test -x build/bin/kfarm-scheduler && test -x build/bin/kfarm
