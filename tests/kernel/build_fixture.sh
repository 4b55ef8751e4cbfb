#!/usr/bin/env bash
# Builds kfarm's real kernel fixture from Debian's linux-source-6.12: tinyconfig + fragment.config,
# vmlinux, then `make KBUILD_MODPOST_NOFINAL=1 modules` (objects and modpost output, no .ko).
# The tree is cached outside the clone, keyed on (kernel version, fragment, toolchain versions),
# so later runs on the same machine reuse it; prints the tree's path on stdout.
# The tree is built at $KFARM_KERNEL_TREE (default /tmp/kfarm-kernel-tree) and users copy it back
# to exactly that path: kbuild's tools and every .o record absolute paths, and a tree used at
# another path would rebuild objtool/resolve_btfids and relink vmlinux.
# Usage: tests/kernel/build_fixture.sh [CACHE_ROOT]   (default /var/cache/kfarm)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache_root=${1:-${KFARM_FIXTURE_CACHE:-/var/cache/kfarm}}
jobs=${KFARM_JOBS:-2}

pkgs=(linux-source-6.12 bc bison flex libelf-dev libssl-dev dwarves python3 cpio kmod xz-utils
      build-essential rsync)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "kernel fixture: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

tarball=$(ls /usr/src/linux-source-6.12*.tar.xz | head -1)
key=$( { dpkg-query -W -f='${Version}' linux-source-6.12; cat "$here/fragment.config" "$0";
         gcc --version | head -1; ld --version | head -1; pahole --version; } | sha256sum | cut -c1-16)
tree=$cache_root/linux-6.12-$key
if [ -f "$tree/.kfarm-fixture-complete" ]; then
  echo "$tree"
  exit 0
fi

build=${KFARM_KERNEL_TREE:-/tmp/kfarm-kernel-tree}
echo "kernel fixture: building $tree at $build (about 4 minutes on 2 cores)" >&2
rm -rf "$build"
mkdir -p "$build" "$cache_root"
tar -xf "$tarball" -C "$build" --strip-components=1
cd "$build"
# A fixed timestamp: kbuild then leaves -j out of pahole's flags (pahole < 1.29 orders BTF
# types by thread timing with -j), and vmlinux/modules are reproducible.
export KBUILD_BUILD_TIMESTAMP="2026-01-01" KBUILD_BUILD_USER=kfarm KBUILD_BUILD_HOST=kfarm
make -s tinyconfig >&2
scripts/kconfig/merge_config.sh -m .config "$here/fragment.config" >/dev/null
make -s olddefconfig >&2
bad=0
while IFS= read -r line; do
  case "$line" in CONFIG_*) ;; *) continue ;; esac
  grep -qx "$line" .config || { echo "kernel fixture: $line did not survive olddefconfig" >&2; bad=1; }
done < "$here/fragment.config"
[ "$bad" -eq 0 ] || exit 1
# One `make all`, as kbuild orders it (modpost before the final vmlinux link, which takes
# .vmlinux.export.o from modpost), stopping before the module final stage.
make -s -j"$jobs" KBUILD_MODPOST_NOFINAL=1 all >&2
n=$(wc -l < modules.order)
[ "$n" -ge 60 ] || { echo "kernel fixture: only $n modules" >&2; exit 1; }
touch .kfarm-fixture-complete
cd /
rm -rf "$tree"
mv "$build" "$tree"
echo "kernel fixture: $n modules in $tree" >&2
echo "$tree"
