#!/usr/bin/env bash
# A real third-party client against kfarm: Debian's Bazel 4.2.3 builds and tests a small
# workspace (genrule + cc_library + cc_binary + cc_test).
#  1. --remote_cache at a kfarm-scheduler: after `bazel clean`, every action is a cache hit.
#  2. --remote_executor at a local farm (`kfarm up`: scheduler + 2 workers): every action runs
#     remotely, the test passes remotely, and after `bazel clean` everything is a cache hit.
# Usage: tests/bazel_client/run.sh BIN_DIR   (BIN_DIR holds kfarm, kfarm-scheduler, kfarm-worker)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=$(cd "${1:?usage: run.sh BIN_DIR}" && pwd)

work=$(mktemp -d /tmp/kfarm-bazel-client.XXXXXX)
sched_pid=""
farm_pid=""
cleanup() {
  (cd "$work/ws" 2>/dev/null && bazel --output_base="$work/ob" shutdown >/dev/null 2>&1) || true
  [ -n "$sched_pid" ] && kill "$sched_pid" 2>/dev/null && wait "$sched_pid" 2>/dev/null
  [ -n "$farm_pid" ] && kill "$farm_pid" 2>/dev/null && wait "$farm_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cp -r "$here/workspace" "$work/ws"
sed -i "s|@KFARM@|$repo|g" "$work/ws/WORKSPACE"

"$bin/kfarm-scheduler" --listen=127.0.0.1:0 --data_dir="$work/data" --port_file="$work/port" \
  2>"$work/scheduler.log" &
sched_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")

cd "$work/ws"
flags=(--remote_cache="grpc://127.0.0.1:$port" --remote_instance_name=ci/bazel-4.2.3)
bz() { bazel --output_base="$work/ob" "$@"; }

fail() { echo "bazel client check FAILED: $*" >&2; tail -20 "$work/scheduler.log" >&2; exit 1; }
source "$here/summary.sh"

bz test "${flags[@]}" //src:all >"$work/first.log" 2>&1 || { cat "$work/first.log"; fail "first build"; }
[ "$(./bazel-bin/src/hello)" = "hello from a genrule, kfarm" ] || fail "wrong program output"

bz clean >/dev/null 2>&1
bz test "${flags[@]}" //src:all >"$work/second.log" 2>&1 || { cat "$work/second.log"; fail "second build"; }
summary=$(summary_of "$work/second.log")
echo "after bazel clean: $summary"
hits=$(count "$summary" "remote cache hit")
ran_locally=$(count "$summary" "linux-sandbox|local|processwrapper-sandbox")
[ "${hits:-0}" -ge 4 ] || fail "expected at least 4 remote cache hits, got ${hits:-0}"
[ "${ran_locally:-0}" -eq 0 ] || fail "$ran_locally actions ran locally instead of coming from the cache"
grep -q "(cached) PASSED" "$work/second.log" || fail "test result was not served from the cache"
[ "$(./bazel-bin/src/hello)" = "hello from a genrule, kfarm" ] || fail "wrong program output after cache hits"
echo "remote cache check passed: $hits remote cache hits, 0 local actions"

# --- 2. remote execution on a local farm ---
kill "$sched_pid" && wait "$sched_pid" 2>/dev/null
sched_pid=""
bz clean --expunge >/dev/null 2>&1
"$bin/kfarm" up --listen=127.0.0.1:0 --data_dir="$work/farm" --port_file="$work/farm.port" \
  --workers=2 --slots=1 >"$work/farm.log" 2>&1 &
farm_pid=$!
for _ in $(seq 100); do [ -s "$work/farm.port" ] && break; sleep 0.1; done
port=$(cat "$work/farm.port")
flags=(--remote_executor="grpc://127.0.0.1:$port" --remote_instance_name=ci/exec
       --spawn_strategy=remote --genrule_strategy=remote)
fail() { echo "bazel client check FAILED: $*" >&2; tail -30 "$work/farm.log" >&2; exit 1; }

bz test "${flags[@]}" //src:all >"$work/third.log" 2>&1 || { cat "$work/third.log"; fail "remote build"; }
summary=$(summary_of "$work/third.log")
echo "remote execution: $summary"
remote=$(count "$summary" "remote")
ran_locally=$(count "$summary" "linux-sandbox|local|processwrapper-sandbox")
[ "${remote:-0}" -ge 4 ] || fail "expected at least 4 remotely executed actions, got ${remote:-0}"
[ "${ran_locally:-0}" -eq 0 ] || fail "$ran_locally actions ran locally"
grep -qE "//src:lib_test +PASSED" "$work/third.log" || fail "the test did not pass remotely"
[ "$(./bazel-bin/src/hello)" = "hello from a genrule, kfarm" ] || fail "wrong output of the remotely built program"

bz clean >/dev/null 2>&1
bz test "${flags[@]}" //src:all >"$work/fourth.log" 2>&1 || { cat "$work/fourth.log"; fail "rebuild"; }
summary=$(summary_of "$work/fourth.log")
echo "after bazel clean: $summary"
hits=$(count "$summary" "remote cache hit")
others=$(count "$summary" "remote|linux-sandbox|local")
[ "${hits:-0}" -ge 4 ] || fail "expected the rebuild to be remote cache hits, got ${hits:-0}"
[ "${others:-0}" -eq 0 ] || fail "$others actions executed again instead of hitting the cache"
echo "bazel client check passed: $remote actions ran on the farm; rebuild was $hits cache hits"
