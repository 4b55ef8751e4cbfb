#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang-14 (ASan + UBSan) in build-fuzz and runs
# each for SECONDS (default 30), starting from tests/fuzz/corpus/TARGET; new inputs go to
# build-fuzz/corpus/TARGET, crashes to build-fuzz/crashes/. Exits non-zero if any target fails.
#   bench/fuzz.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
targets=(resource_name bytestream_wire directory zstd journal recipe)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DKFARM_FUZZ=ON >/dev/null || exit 1
cmake --build build-fuzz -j2 --target "${targets[@]/%/_fuzz}" >/dev/null || exit 1
mkdir -p build-fuzz/crashes
failed=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t"
  if "build-fuzz/bin/${t}_fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="build-fuzz/crashes/$t-" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" \
      >"build-fuzz/$t.log" 2>&1; then
    echo "fuzz $t: $(grep -oE '#[0-9]+' "build-fuzz/$t.log" | tail -1) runs in ${seconds} s, no failure"
  else
    echo "fuzz $t: FAILED, see build-fuzz/$t.log and build-fuzz/crashes/"
    failed=1
  fi
done
exit $failed
