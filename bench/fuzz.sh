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
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t" "tests/fuzz/corpus/$t"
  if "$out/bin/${t}_fuzz" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$out/crashes/$t-" "$out/corpus/$t" "tests/fuzz/corpus/$t" \
      >"$out/$t.log" 2>&1; then
    echo "fuzz $t: $(grep -oE '#[0-9]+' "$out/$t.log" | tail -1) runs in ${seconds} s, no failure"
  else
    echo "fuzz $t: FAILED, see $out/$t.log and $out/crashes/"
    failed=1
  fi
done
exit $failed
