#!/usr/bin/env bash
# Installs every Debian package kfarm needs to build, test and run. Idempotent: quiet and fast
# when everything is already present, so the README commands can always call it first.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev libprotoc-dev protobuf-compiler libabsl-dev
  libssl-dev libelf-dev libzstd-dev zstd libxxhash-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  prometheus-cpp-dev libcivetweb-dev  # /metrics and the operators' HTTP listener
  bazel-bootstrap bazel-bootstrap-source
  openssl python3 python3-grpcio python3-protobuf bubblewrap util-linux bc
  clang-14  # bench/fuzz.sh: libFuzzer, ASan, UBSan
  chromium fonts-dejavu-core  # tests/status_page: the status page in headless Chromium
  systemd python3-yaml  # tests/deploy: systemd-analyze verify, the manifests' cross-checks
  gnuplot-nox graphviz  # bench/plot_timeline.sh, docs/render.sh
  # The kernel fixtures and `kfarm modfinal`: kbuild's build dependencies, pahole (dwarves).
  bison flex dwarves cpio kmod xz-utils rsync
)
# tests/deploy: `kubectl kustomize` renders the Kubernetes manifests offline. Debian's
# kubernetes-client, unless some kubectl (another vendor's package) is already there: the two
# packages both own /usr/bin/kubectl.
command -v kubectl >/dev/null || packages+=(kubernetes-client)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "kfarm setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
