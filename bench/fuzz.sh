#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz in the sanitizer build (deploy/build.sh --sanitize:
# clang-14, ASan + UBSan, build-san) and runs each for SECONDS (default 30), starting from
# tests/fuzz/corpus/TARGET; new inputs go to build-san/corpus/TARGET, crashes to
# build-san/crashes/. Exits non-zero if any target fails.
#   bench/fuzz.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
targets=(resource_name bytestream_wire directory zstd journal recipe config)
out=build-san
bash deploy/build.sh --sanitize "${targets[@]/%/_fuzz}" || exit 1
mkdir -p $out/crashes
# Targets run side by side, as many at once as there are build jobs (each still gets SECONDS of
# its own): on 2 cores the 7 targets take 4 slots of SECONDS instead of 7.
jobs=${KFARM_JOBS:-2}
fuzz_one() {
  local t=$1
  mkdir -p "$out/corpus/$t" "tests/fuzz/corpus/$t"
  if "$out/bin/${t}_fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$out/crashes/$t-" "$out/corpus/$t" "tests/fuzz/corpus/$t" \
      >"$out/$t.log" 2>&1; then
    echo "fuzz $t: $(grep -oE '#[0-9]+' "$out/$t.log" | tail -1) runs in ${seconds} s, no failure"
  else
    echo "fuzz $t: FAILED, see $out/$t.log and $out/crashes/"
    return 1
  fi
}
failed=0
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit $failed
