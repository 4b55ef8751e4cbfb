#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with CMake and with Bazel, and runs
# every test — unit and integration tests under ctest, the same tests under Bazel, and a real
# Bazel 4.2.3 client using kfarm as its remote cache and executor, npm's Bazel 2.1.0 doing the
# same over TLS (fetched once by deploy/fetch_bazel2.sh, cached outside the clone), a real
# Prometheus scraping a farm (unpacked once from Debian's package, cached likewise), and kfarm
# modfinal on real 6.1, 6.12 and 7.2 kernel fixtures (each built once and cached outside the
# clone). Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh || exit 1

passed=0
failed=0
# Each step's output goes to its own log, shown when the step ends (a file, not a pipe: a
# process a step leaves behind cannot hold the run up), and a failed step's log is shown again at
# the very end: a CI that keeps only the tail of a long run still shows why it failed.
logs=$(mktemp -d /tmp/kfarm-test-logs.XXXXXX)
failed_logs=()
step() {
  local name=$1
  shift
  local start=$SECONDS
  local log
  log=$logs/$(printf '%02d' $((passed + failed + 1))).log
  echo "=== $name"
  local rc=0
  "$@" >"$log" 2>&1 || rc=$?
  cat "$log"
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1))
    echo "=== $name: passed in $((SECONDS - start)) s"
  else
    echo "=== $name FAILED after $((SECONDS - start)) s"
    failed=$((failed + 1))
    failed_logs+=("$name|$log")
  fi
}
recap_failures() {
  local entry name log
  for entry in "${failed_logs[@]}"; do
    name=${entry%%|*}
    log=${entry#*|}
    echo "=== FAILED: $name (whole output: $log); the lines that say why, then its last 60 lines:"
    grep -nE 'FAILED|Failed|failed|not ok|ERROR|Error|error:|Sanitizer|runtime error|Assertion|Abort|timed out|Timeout|crash' \
      "$log" | grep -v ' 0 failed' | head -40
    echo "--- last 60 lines of $name:"
    tail -n 60 "$log"
  done
}

# CMake builds once, with clang-14's AddressSanitizer and UndefinedBehaviorSanitizer (and
# libFuzzer's coverage): the unit and integration tests, the clients' runs and the kernel runs all
# use those binaries, so a memory error or undefined behaviour anywhere fails the run. Bazel
# builds and tests the same code with g++ unsanitized, the README's main build.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
step "cmake build (clang-14: ASan, UBSan, libFuzzer)" bash deploy/build.sh --sanitize
step "ctest (ASan, UBSan)" ctest --test-dir build-san --output-on-failure -j2
step "fuzz: every libFuzzer target for 30 s" bash bench/fuzz.sh 30
step "bazel build and test (g++)" bazel test //... --test_output=errors
step "bazel 4.2.3 as a client (remote cache, remote execution)" bash tests/bazel_client/run.sh build-san/bin
step "bazel 2.1.0 as a client over grpcs:// (mTLS workers on their own listener)" \
  bash tests/bazel_client/tls.sh build-san/bin
step "prometheus 2.42 scrapes a working farm" bash tests/prometheus/scrape_test.sh build-san/bin
step "the status page in headless chromium" bash tests/status_page/chromium_test.sh build-san/bin
step "deploy/farm: configs, systemd units, kubernetes manifests" bash tests/deploy/deploy_test.sh build-san/bin
# Every kernel line a distribution builds: Debian 12's 6.1 and 6.12, and 7.2 from Debian's
# development suite. Each fixture is built once and cached outside the clone. The later fixtures
# build in the background, niced, while the earlier kernels are tested: those tests leave a core
# idle much of the time. build_fixture.sh's lock makes a test wait for a fixture still being
# built rather than build it twice; a background build that failed is simply built again there.
mkdir -p build-san
(for version in 6.12 7.2; do
   nice -n 10 bash tests/kernel/build_fixture.sh "$version" >/dev/null 2>>build-san/fixtures.log || true
 done) &
fixtures=$!
for version in 6.1 6.12 7.2; do
  step "kfarm modfinal on linux $version" bash tests/kernel/modfinal_test.sh build-san/bin "$version"
  step "kbuild variants on linux $version (unknown recipes, external module, vmlinux.unstripped)" \
    bash tests/kernel/kbuild_variants_test.sh build-san/bin "$version"
done
wait "$fixtures" || true

recap_failures
echo "${passed} passed, ${failed} failed, in $((SECONDS / 60)) min $((SECONDS % 60)) s"
[ "$failed" -eq 0 ]
