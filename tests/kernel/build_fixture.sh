#!/usr/bin/env bash
# Builds one of kfarm's real kernel fixtures from Debian's linux-source-VERSION (6.1, 6.12, 7.2):
# tinyconfig + fragment.config, vmlinux, then `make KBUILD_MODPOST_NOFINAL=1 all` (objects and
# modpost output, no .ko). The tree is cached outside the clone, keyed on (kernel source,
# fragment, this script, toolchain versions), so later runs on the same machine reuse it; prints
# the tree's path on stdout.
# Each version is built at /tmp/kfarm-kernel-VERSION (the path is kept in the tree's
# .kfarm-build-path) and users copy it back to exactly that path: kbuild's tools and every .o
# record absolute paths, and a tree used at another path would rebuild objtool/resolve_btfids and
# relink vmlinux.
# Options of the fragment that a version's Kconfig no longer has, or that no longer stick (7.x
# dropped or hid several CRC library options), are reported as drift, not failures.
# Usage: tests/kernel/build_fixture.sh [VERSION] [CACHE_ROOT]   (defaults 6.12, /var/cache/kfarm)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=${1:-6.12}
cache_root=${2:-${KFARM_FIXTURE_CACHE:-/var/cache/kfarm}}
jobs=${KFARM_JOBS:-2}
source "$here/fixture_lib.sh"  # det_args: what makes this version's kbuild reproducible.

pkgs=(bc bison flex libelf-dev libssl-dev dwarves python3 cpio kmod xz-utils build-essential rsync)
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

tarball=$(bash "$here/kernel_source.sh" "$version" "$cache_root")
# The key: what the tree is built from. `recipe` counts changes to the build steps below that
# change the tree (bump it with them; comments and messages do not count). Pruning came without
# a bump on purpose: it deletes only sources the build never reads, so a tree cached before it
# is the same fixture, only bigger, and machines that hold one need not rebuild three kernels.
recipe=2
key=$( { echo "$version recipe $recipe${det_args[*]:+ ${det_args[*]}}"; stat -c '%s %Y' "$tarball"; cat "$here/fragment.config";
         gcc --version | head -1; ld --version | head -1; pahole --version; } | sha256sum | cut -c1-16)
tree=$cache_root/linux-$version-$key
mkdir -p "$cache_root"
exec 8>"$cache_root/.fixture-$version.lock"  # One build of a version at a time (same path).
flock 8
if [ -f "$tree/.kfarm-fixture-complete" ]; then
  echo "$tree"
  exit 0
fi

build=/tmp/kfarm-kernel-$version
echo "kernel fixture: building $tree at $build (4-10 minutes on 2 cores)" >&2
rm -rf "$build"
mkdir -p "$build" "$cache_root"
tar -xf "$tarball" -C "$build" --strip-components=1
cd "$build"
fragment=$(mktemp)
sources=$(mktemp)   # What the tarball unpacked: the only files pruning may delete.
symbols=$(mktemp)
trap 'rm -f "$fragment" "$sources" "$symbols"' EXIT
find . \( -type f -o -type l \) -printf '%P\n' > "$sources"
make -s tinyconfig >&2
# The fragment, less the options this version's Kconfig does not define.
grep -rhoE --include='Kconfig*' '^(menu)?config [A-Za-z0-9_]+' . | sed -E 's/^(menu)?config //' | sort -u > "$symbols"
while IFS= read -r line; do
  case "$line" in CONFIG_*) ;; *) continue ;; esac
  sym=${line%%=*}
  sym=${sym#CONFIG_}
  if grep -qx "$sym" "$symbols"; then
    echo "$line" >>"$fragment"
  else
    echo "kernel fixture: linux $version has no $sym (fragment drift): left out" >&2
  fi
done < "$here/fragment.config"
scripts/kconfig/merge_config.sh -m .config "$fragment" >/dev/null
make -s olddefconfig >&2
# Options that did not stick are drift too (7.x made several CRC options invisible), reported;
# the fixture fails only without what modfinal needs, or with fewer than 60 modules.
while IFS= read -r line; do
  grep -qx "$line" .config || echo "kernel fixture: linux $version: $line did not stick (fragment drift)" >&2
done < "$fragment"
for needed in CONFIG_MODULES=y CONFIG_DEBUG_INFO_BTF=y CONFIG_DEBUG_INFO_BTF_MODULES=y; do
  grep -qx "$needed" .config || { echo "kernel fixture: linux $version: $needed did not stick" >&2; exit 1; }
done
# One `make all`, as kbuild orders it (modpost before the final vmlinux link, which takes
# .vmlinux.export.o from modpost), stopping before the module final stage.
make -s -j"$jobs" KBUILD_MODPOST_NOFINAL=1 all "${det_args[@]}" >&2
n=$(wc -l < modules.order)
[ "$n" -ge 60 ] || { echo "kernel fixture: only $n modules" >&2; exit 1; }
# Half the tree is sources tinyconfig never compiles: gone, the cache and every test copy halve.
python3 "$here/prune_fixture.py" "$build" "$sources"
echo "$build" > .kfarm-build-path
touch .kfarm-fixture-complete
cd /
rm -rf "$tree"
mv "$build" "$tree"
echo "kernel fixture: linux $version, $n modules in $tree" >&2
echo "$tree"
