#!/usr/bin/env bash
# Configures and builds kfarm with CMake + Ninja.
#   deploy/build.sh              g++, RelWithDebInfo, into ./build (binaries in build/bin)
#   deploy/build.sh --sanitize [TARGET...]
#                                clang-14 with AddressSanitizer, UndefinedBehaviorSanitizer and
#                                libFuzzer's coverage, into ./build-san: every test, binary and
#                                fuzz target (tests/fuzz) checked; what the test command runs
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${KFARM_JOBS:-2}
dir=build
args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
  shift
  dir=build-san
  # -O1: sanitized code at -O2 compiles much slower for little faster tests.
  args+=(-DCMAKE_CXX_COMPILER=clang++-14 -DKFARM_FUZZ=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g")
fi
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
fi
if [ $# -gt 0 ]; then
  ninja -C "$dir" -j"$jobs" "$@" >/dev/null
  exit
fi
ninja -C "$dir" -j"$jobs" | grep -vE "^\[[0-9]+/[0-9]+\] " || true
test -x "$dir/bin/kfarm-scheduler" && test -x "$dir/bin/kfarm"
