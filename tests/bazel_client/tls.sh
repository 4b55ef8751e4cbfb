#!/usr/bin/env bash
# A real client over TLS: npm's Bazel 2.1.0 (Debian's 4.2.3 cannot speak grpcs://) against a
# scheduler with TLS on its client listener and a policy per instance prefix, and two workers that
# join a separate mTLS-only listener with certificates from deploy/make_certs.sh.
# Bazel 2.1 sends no --remote_header over gRPC (not even on GetCapabilities; gRPC headers came in
# later releases) and has no client-certificate flag, so it reaches the farm as the "anonymous"
# principal: the policy grants anonymous callers the "open" prefix, and nothing on "ci", which only
# the token's principal may use (tokens over TLS are tested with gRPC's C++ client in
# tests/security_test.cc).
#  1. --remote_cache over grpcs://: after `bazel clean`, every action is a remote cache hit.
#  2. Refusals Bazel itself reports: executing on "ci" even with --remote_header (PERMISSION_DENIED
#     naming the principal, permission and instance, never the token), and a client that does not
#     trust the farm's CA (the handshake fails).
#  3. --remote_executor over grpcs://: every action runs on the mTLS workers, the test passes
#     remotely, and after `bazel clean` everything is a cache hit.
# Usage: tests/bazel_client/tls.sh BIN_DIR   (BIN_DIR holds kfarm-scheduler and kfarm-worker)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bin=$(cd "${1:?usage: tls.sh BIN_DIR}" && pwd)
bazel2=$(bash "$repo/deploy/fetch_bazel2.sh")
source "$here/summary.sh"

work=$(mktemp -d /tmp/kfarm-bazel-tls.XXXXXX)
pids=()
cleanup() {
  (cd "$work/ws" 2>/dev/null && "$bazel2" --nosystem_rc --output_base="$work/ob" shutdown \
    >/dev/null 2>&1) || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "bazel 2.1 TLS check FAILED: $*" >&2
  tail -20 "$work/scheduler.log" >&2
  exit 1
}

bash "$repo/deploy/make_certs.sh" "$work/certs" localhost 127.0.0.1 >/dev/null
certs=$work/certs
token=$(cat "$certs/token")
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
cat >"$work/scheduler.conf" <<EOF
listen_address: "127.0.0.1:0"
data_dir: "$work/data"
tls { cert_file: "$certs/scheduler.pem" key_file: "$certs/scheduler.key" }
auth {
  tokens { principal: "ci" token_sha256: "$(sha "$token")" }
  grants { principal: "ci" permissions: [READ, WRITE, EXECUTE, AC_WRITE] }
  grants { principal: "anonymous" instance_prefix: "open" permissions: [READ, WRITE, EXECUTE, AC_WRITE] }
}
worker_listener {
  listen_address: "127.0.0.1:0"
  tls { cert_file: "$certs/scheduler.pem" key_file: "$certs/scheduler.key"
        client_ca_file: "$certs/ca.pem" require_client_cert: true }
}
EOF
"$bin/kfarm-scheduler" --config="$work/scheduler.conf" --port_file="$work/port" \
  --worker_port_file="$work/worker.port" 2>"$work/scheduler.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || fail "the scheduler did not start"
port=$(cat "$work/port")
worker_port=$(cat "$work/worker.port")
[ "$port" != "$worker_port" ] || fail "workers and clients share port $port"

for i in 1 2; do
  "$bin/kfarm-worker" --scheduler="grpcs://127.0.0.1:$worker_port" --tls_ca_file="$certs/ca.pem" \
    --tls_client_cert="$certs/worker.pem" --tls_client_key="$certs/worker.key" \
    --data_dir="$work/worker$i" --worker_id="tls-worker-$i" --slots=1 2>"$work/worker$i.log" &
  pids+=($!)
done

cp -r "$here/workspace" "$work/ws"
sed -i "s|@KFARM@|$repo|g" "$work/ws/WORKSPACE"
cd "$work/ws"
bz() { "$bazel2" --nosystem_rc --output_base="$work/ob" "$@"; }
remote=grpcs://localhost:$port
tls=(--tls_certificate="$certs/ca.pem")

# --- 1. remote cache over TLS ---
cache=(--remote_cache="$remote" --remote_instance_name=open/bazel-2.1 "${tls[@]}")
bz test "${cache[@]}" //src:all >"$work/first.log" 2>&1 || { cat "$work/first.log"; fail "first build"; }
[ "$(./bazel-bin/src/hello)" = "hello from a genrule, kfarm" ] || fail "wrong program output"
bz clean >/dev/null 2>&1
bz test "${cache[@]}" //src:all >"$work/second.log" 2>&1 || { cat "$work/second.log"; fail "second build"; }
local_kinds="linux-sandbox|local|processwrapper-sandbox"
hits=$(expect_processes "$work/second.log" "remote cache hit" "$local_kinds") ||
  fail "after bazel clean, actions ran instead of coming from the remote cache"
echo "ok - bazel 2.1 --remote_cache over grpcs://: $hits remote cache hits after bazel clean"

# --- 2. refusals, as Bazel reports them ---
exec_flags=(--spawn_strategy=remote --genrule_strategy=remote)
bz clean >/dev/null 2>&1
if bz build --remote_executor="$remote" --remote_instance_name=ci/exec "${exec_flags[@]}" "${tls[@]}" \
    --remote_header="authorization=Bearer $token" //src:all >"$work/denied.log" 2>&1; then
  fail "an anonymous caller could use the ci instance"
fi
grep -q "PERMISSION_DENIED" "$work/denied.log" || { cat "$work/denied.log"; fail "no PERMISSION_DENIED"; }
grep -qE 'principal "anonymous" lacks the [a-z-]+ permission on instance "ci/exec"' "$work/denied.log" ||
  { cat "$work/denied.log"; fail "the refusal does not name principal, permission and instance"; }
if grep -q "$token" "$work/denied.log"; then fail "the refusal shows the token"; fi
echo "ok - the ci instance refuses anonymous Bazel 2.1 (which never sends --remote_header): PERMISSION_DENIED naming principal, permission and instance"

if bz build --remote_executor="$remote" --remote_instance_name=open/exec "${exec_flags[@]}" \
    //src:all >"$work/no-ca.log" 2>&1; then
  fail "a client that does not trust the farm's CA connected"
fi
echo "ok - a client without the farm's CA is refused at the handshake"

# --- 3. remote execution over TLS on mTLS workers ---
bz clean --expunge >/dev/null 2>&1
run=(--remote_executor="$remote" --remote_instance_name=open/exec "${exec_flags[@]}" "${tls[@]}")
bz test "${run[@]}" //src:all >"$work/third.log" 2>&1 || { cat "$work/third.log"; fail "remote build"; }
ran_remotely=$(expect_processes "$work/third.log" "remote" "$local_kinds") ||
  fail "actions did not all run on the farm"
grep -qE "//src:lib_test +PASSED" "$work/third.log" || fail "the test did not pass remotely"
[ "$(./bazel-bin/src/hello)" = "hello from a genrule, kfarm" ] || fail "wrong output of the remote build"
grep -q "tls-worker-" "$work/scheduler.log" || fail "the scheduler never saw the mTLS workers"
bz clean >/dev/null 2>&1
bz test "${run[@]}" //src:all >"$work/fourth.log" 2>&1 || { cat "$work/fourth.log"; fail "rebuild"; }
hits=$(expect_processes "$work/fourth.log" "remote cache hit" "remote|$local_kinds") ||
  fail "after bazel clean, actions executed again instead of hitting the cache"
echo "ok - bazel 2.1 --remote_executor over grpcs://: $ran_remotely actions on 2 mTLS workers, the test passed remotely; rebuild: $hits cache hits"
