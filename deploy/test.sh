#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with CMake and with Bazel, and runs
# every test — unit and integration tests under ctest, the same tests under Bazel, and a real
# Bazel 4.2.3 client using kfarm as its remote cache and executor, and kfarm modfinal on a real
# kernel fixture (built once and cached outside the clone). Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh || exit 1

passed=0
failed=0
step() {
  local name=$1
  shift
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
  else
    echo "=== $name FAILED"
    failed=$((failed + 1))
  fi
}

step "cmake build" bash deploy/build.sh
step "ctest" ctest --test-dir build --output-on-failure -j2
step "bazel build and test" bazel test //... --test_output=errors
step "bazel 4.2.3 as a client (remote cache, remote execution)" bash tests/bazel_client/run.sh build/bin
step "kfarm modfinal on the real 6.12 kernel fixture" bash tests/kernel/modfinal_test.sh build/bin

echo "${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
