#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, starts a local farm (`kfarm up`:
# scheduler + 2 workers on loopback), round-trips a real directory through its CAS, runs a
# command on the workers, then the kernel demo: kfarm modfinal on a real 6.12 tree.
# With --serve the farm keeps running afterwards (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
bash deploy/build.sh

# Everything the demo needs is installed before the farm starts: workers offer the tools
# (pahole...) they find, and notice later installs only on their next heartbeat.
version=${KFARM_DEMO_KERNEL:-6.12}
fixture=$(bash tests/kernel/build_fixture.sh "$version")

bin=$PWD/build/bin
data=${KFARM_DATA:-$PWD/kfarm-data}
work=$(mktemp -d /tmp/kfarm-demo.XXXXXX)
farm_pid=""
cleanup() {
  [ -n "$farm_pid" ] && kill "$farm_pid" 2>/dev/null && wait "$farm_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$bin/kfarm" up --listen="127.0.0.1:${KFARM_PORT:-8980}" --data_dir="$data" \
  --port_file="$work/port" --workers=2 &
farm_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "the farm did not start (is port ${KFARM_PORT:-8980} in use?)" >&2; exit 1; }
remote=grpc://127.0.0.1:$(cat "$work/port")
kfarm() { "$bin/kfarm" --remote="$remote" "$@"; }

src=/usr/include/linux
echo "== kfarm cas put $src"
digest=$(kfarm cas put "$src")
echo "   root digest $digest ($(find "$src" -type f | wc -l) files)"
kfarm cas get --dir "$digest" "$work/copy"
if ! diff -r "$src" "$work/copy" >/dev/null; then
  echo "round trip FAILED: $work/copy differs from $src" >&2
  exit 1
fi
echo "   downloaded again: identical to $src"

echo "== kfarm run: a command on the workers, inputs uploaded, outputs brought back"
mkdir -p "$work/job"
printf 'int main(void) { return 0; }\n' > "$work/job/main.c"
kfarm run --input="$work/job" --outputs=main.o,sizes.txt --env=PATH=/usr/bin:/bin -- \
  /bin/sh -c 'gcc -c main.c -o main.o && size main.o > sizes.txt && echo "compiled on $(hostname)"'
cat "$work/job/sizes.txt"

echo "== the kernel demo: kfarm modfinal on a real ${version} tree (built once, cached outside the clone)"
export KBUILD_BUILD_TIMESTAMP=2026-01-01 KBUILD_BUILD_USER=kfarm KBUILD_BUILD_HOST=kfarm
linux=$(cat "$fixture/.kfarm-build-path")  # The path the fixture was built at.
rm -rf "$linux"
cp -a "$fixture" "$linux"
kfarm modfinal -C "$linux" --module_hashes --make_args=KBUILD_BUILD_TIMESTAMP=2026-01-01 | tail -5
echo "== again: every module is an action-cache hit"
kfarm modfinal -C "$linux" --make_args=KBUILD_BUILD_TIMESTAMP=2026-01-01 | tail -2

echo "== kfarm status: the builds the farm saw (the status page shows the same, per action too)"
kfarm status --recent=1 | sed -n '/^BUILDS/,/^$/p'

echo
echo "The farm serves REAPI at $remote (data in $data)."
echo "Bazel: bazel build --remote_executor=$remote //..."
[ -s "$data/scheduler.http-port" ] &&
  echo "Status page: http://127.0.0.1:$(cat "$data/scheduler.http-port")/ (metrics at /metrics)"
if [ "${1:-}" = "--serve" ]; then
  echo "Serving until Ctrl-C."
  wait "$farm_pid"
fi
