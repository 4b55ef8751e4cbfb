#!/usr/bin/env bash
# Fetches Bazel 2.1.0 from npm (@bazel/bazel-linux_x64), the one real client on our machines that
# speaks grpcs:// (Debian's 4.2.3 cannot: its netty lacks ALPN). Kept outside the clone, keyed on
# the version, and checked against a pinned SHA-256, so a second run is instant and a tampered
# or truncated download is refused. Prints the path of the bazel binary.
#   deploy/fetch_bazel2.sh        (cache: $KFARM_FIXTURE_CACHE, default /var/cache/kfarm)
# Uses `npm pack` when npm is installed, else fetches the same tarball from the npm registry.
set -euo pipefail
version=2.1.0
sha256=14cb6958e46fd5130720c26ae0b7c98e181dcb8bd111b0bfb23c7b4744e3609a
url=https://registry.npmjs.org/@bazel/bazel-linux_x64/-/bazel-linux_x64-$version.tgz
dir=${KFARM_FIXTURE_CACHE:-/var/cache/kfarm}/bazel-$version
bin=$dir/bazel-$version-linux-x86_64

if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$dir"
tmp=$(mktemp -d "$dir/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
if command -v npm >/dev/null; then
  (cd "$tmp" && npm pack --silent "@bazel/bazel-linux_x64@$version" >/dev/null)
  mv "$tmp"/*.tgz "$tmp/bazel.tgz"
else
  python3 - "$url" "$tmp/bazel.tgz" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=120) as r, open(sys.argv[2], "wb") as out:
    while chunk := r.read(1 << 20):
        out.write(chunk)
EOF
fi
got=$(sha256sum "$tmp/bazel.tgz" | cut -d' ' -f1)
if [ "$got" != "$sha256" ]; then
  echo "fetch_bazel2: $url has SHA-256 $got, expected $sha256; not using it" >&2
  exit 1
fi
tar xzf "$tmp/bazel.tgz" -C "$tmp" "package/bazel-$version-linux-x86_64"
chmod +x "$tmp/package/bazel-$version-linux-x86_64"
mv "$tmp/package/bazel-$version-linux-x86_64" "$bin"
echo "$bin"
