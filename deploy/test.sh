#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with CMake and with Bazel, and runs
# every test — unit and integration tests under ctest, the same tests under Bazel, and a real
# Bazel 4.2.3 client using kfarm as its remote cache and executor, npm's Bazel 2.1.0 doing the
# same over TLS (fetched once by deploy/fetch_bazel2.sh, cached outside the clone), and kfarm
# modfinal on real 6.1, 6.12 and 7.2 kernel fixtures (each built once and cached outside the
# clone). Ends with "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh || exit 1

passed=0
failed=0
step() {
  local name=$1
  shift
  local start=$SECONDS
  echo "=== $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "=== $name: passed in $((SECONDS - start)) s"
  else
    echo "=== $name FAILED after $((SECONDS - start)) s"
    failed=$((failed + 1))
  fi
}

step "cmake build" bash deploy/build.sh
step "ctest" ctest --test-dir build --output-on-failure -j2
step "bazel build and test" bazel test //... --test_output=errors
step "bazel 4.2.3 as a client (remote cache, remote execution)" bash tests/bazel_client/run.sh build/bin
step "bazel 2.1.0 as a client over grpcs:// (mTLS workers on their own listener)" \
  bash tests/bazel_client/tls.sh build/bin
# Every kernel line a distribution builds: Debian 12's 6.1 and 6.12, and 7.2 from Debian's
# development suite. Each fixture is built once and cached outside the clone.
for version in 6.1 6.12 7.2; do
  step "kfarm modfinal on linux $version" bash tests/kernel/modfinal_test.sh build/bin "$version"
  step "kbuild variants on linux $version (unknown recipes, external module, vmlinux.unstripped)" \
    bash tests/kernel/kbuild_variants_test.sh build/bin "$version"
done

echo "${passed} passed, ${failed} failed, in $((SECONDS / 60)) min $((SECONDS % 60)) s"
[ "$failed" -eq 0 ]
