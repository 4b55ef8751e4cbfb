#!/usr/bin/env bash
# Prints the path of Debian's linux-source-VERSION tarball, getting it first when it is missing.
# Versions in the system's own suites (6.1, 6.12 on Debian 12) are installed with apt-get. Others
# (7.2 lives only in the development suite, sid) are downloaded with a private apt configuration
# — the same mirror URIs and keyring the system's sources use, suite sid — and unpacked with
# dpkg -x under CACHE_ROOT, leaving the system's apt configuration and package database alone.
# Usage: tests/kernel/kernel_source.sh VERSION [CACHE_ROOT]   (default /var/cache/kfarm)
set -euo pipefail
version=$1
cache_root=${2:-${KFARM_FIXTURE_CACHE:-/var/cache/kfarm}}
pkg=linux-source-$version
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$cache_root"
exec 9>"$cache_root/.kernel-source.lock"  # One fetch at a time: apt's lists are shared.
flock 9

found() {
  local t
  t=$(ls "$1"/linux-source-"$version".tar.* 2>/dev/null | head -1)
  [ -n "$t" ] && echo "$t"
}

if found /usr/src; then exit 0; fi
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
  echo "kernel source: $pkg is installed but has no tarball in /usr/src" >&2
  exit 1
fi
candidate() { apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: \([0-9]\)/\1/p'; }
[ -n "$(candidate)" ] || apt-get update -qq >&2 || true
if [ -n "$(candidate)" ]; then
  echo "kernel source: installing $pkg" >&2
  apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
  found /usr/src && exit 0
  echo "kernel source: $pkg installed no tarball in /usr/src" >&2
  exit 1
fi

# Not in the system's suites: the development suite, through a private apt configuration.
dir=$cache_root/apt-sid
if found "$dir/root/usr/src"; then exit 0; fi
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/debs"
# The mirror and keyring of the system's main Debian source (deb822 or one-line format).
uri="" keyring=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  u=$(awk '/^URIs:/ {print $2; exit}' "$f")
  case "$u" in */debian|*/debian/) uri=${u%/}; keyring=$(awk '/^Signed-By:/ {print $2; exit}' "$f"); break ;; esac
done
if [ -z "$uri" ]; then
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    line=$(grep -E '^deb [^#]*/debian/? ' "$f" | grep -v -- '-security' | head -1 || true)
    [ -n "$line" ] || continue
    keyring=$(sed -n 's/.*signed-by=\([^] ]*\).*/\1/p' <<<"$line")
    uri=$(sed -E 's/^deb (\[[^]]*\] )?([^ ]+).*/\2/' <<<"$line")
    uri=${uri%/}
    break
  done
fi
[ -n "$uri" ] || { echo "kernel source: no Debian mirror in the system's apt sources" >&2; exit 1; }
[ -n "$keyring" ] || keyring=/usr/share/keyrings/debian-archive-keyring.gpg
printf 'deb [signed-by=%s] %s sid main\n' "$keyring" "$uri" > "$dir/sources.list"
opts=(-o "Dir::Etc::sourcelist=$dir/sources.list" -o Dir::Etc::sourceparts=/dev/null
      -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache"
      -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
echo "kernel source: fetching $pkg from $uri sid" >&2
apt-get "${opts[@]}" update -qq >&2
(cd "$dir/debs" && apt-get "${opts[@]}" download "$pkg" >&2)
rm -rf "$dir/root.new"
dpkg -x "$(ls "$dir"/debs/"$pkg"_*.deb | head -1)" "$dir/root.new"
rm -rf "$dir/root" "$dir/debs"
mv "$dir/root.new" "$dir/root"
found "$dir/root/usr/src" || { echo "kernel source: $pkg has no tarball" >&2; exit 1; }
