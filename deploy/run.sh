#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, starts kfarm-scheduler with its
# embedded disk store, and round-trips a real directory through it with the kfarm CLI.
# With --serve the scheduler keeps running afterwards (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
bash deploy/build.sh

port=${KFARM_PORT:-8980}
data=${KFARM_DATA:-$PWD/kfarm-data}
bin=$PWD/build/bin
work=$(mktemp -d /tmp/kfarm-demo.XXXXXX)
sched_pid=""
cleanup() {
  [ -n "$sched_pid" ] && kill "$sched_pid" 2>/dev/null && wait "$sched_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

"$bin/kfarm-scheduler" --listen="127.0.0.1:$port" --data_dir="$data" --port_file="$work/port" &
sched_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { echo "kfarm-scheduler did not start (is port $port in use?)" >&2; exit 1; }
remote=grpc://127.0.0.1:$port

src=${1:-/usr/include/linux}
[ "$src" = "--serve" ] && src=/usr/include/linux
echo "== kfarm cas put $src"
start=$(date +%s.%N)
digest=$("$bin/kfarm" --remote="$remote" cas put "$src")
echo "   root digest $digest ($(find "$src" -type f | wc -l) files, $(du -sh "$src" | cut -f1)) in $(echo "$(date +%s.%N) - $start" | bc | cut -c1-5) s"
echo "== kfarm cas get --dir $digest"
"$bin/kfarm" --remote="$remote" cas get --dir "$digest" "$work/copy"
if ! diff -r "$src" "$work/copy" >/dev/null; then
  echo "round trip FAILED: $work/copy differs from $src" >&2
  exit 1
fi
echo "   identical to $src"
echo "== kfarm cas tree $digest (first lines)"
"$bin/kfarm" --remote="$remote" cas tree "$digest" | head -5

echo
echo "kfarm-scheduler serves REAPI at $remote (store: $data)."
echo "Bazel: bazel build --remote_cache=$remote //..."
if [ "${*: -1}" = "--serve" ]; then
  echo "Serving until Ctrl-C."
  wait "$sched_pid"
fi
