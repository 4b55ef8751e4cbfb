#!/usr/bin/env bash
# A real Prometheus (Debian's 2.42) scrapes a farm while it works: a scheduler and a worker with
# their operators' HTTP listeners, a few actions run through `kfarm run`, then queries through
# Prometheus's HTTP API must return the expected non-zero series. Prometheus is taken from PATH,
# or unpacked once from Debian's package into a cache outside the clone (never installed as a
# service: the package would start one on :9090).
# Usage: tests/prometheus/scrape_test.sh BIN_DIR
set -euo pipefail
bin=$(cd "${1:?usage: scrape_test.sh BIN_DIR}" && pwd)
cache=${KFARM_CACHE:-/var/cache/kfarm}

prometheus=$(command -v prometheus || true)
if [ -z "$prometheus" ]; then
  unpacked="$cache/prometheus-deb"
  if [ ! -x "$unpacked/usr/bin/prometheus" ]; then
    mkdir -p "$cache"
    fetch=$(mktemp -d /tmp/kfarm-prometheus-deb.XXXXXX)
    (cd "$fetch" && { apt-get download prometheus >/dev/null 2>&1 ||
                      { apt-get update -qq >/dev/null 2>&1 && apt-get download prometheus >/dev/null; }; })
    rm -rf "$unpacked.tmp" && dpkg-deb -x "$fetch"/prometheus_*.deb "$unpacked.tmp"
    rm -rf "$unpacked" && mv "$unpacked.tmp" "$unpacked"
    rm -rf "$fetch"
  fi
  prometheus="$unpacked/usr/bin/prometheus"
fi

source "$(dirname "$0")/../farm_lib.sh"
farm_test_init prometheus

"$bin/kfarm-scheduler" --listen=127.0.0.1:0 --data_dir="$work/scheduler" --port_file="$work/port" \
  --http_listen=127.0.0.1:0 --http_port_file="$work/scheduler.http" 2>"$work/scheduler.log" &
pids+=($!)
wait_file "$work/port"
wait_file "$work/scheduler.http"
"$bin/kfarm-worker" --scheduler="grpc://127.0.0.1:$(cat "$work/port")" --data_dir="$work/worker" \
  --worker_id=w1 --slots=2 --http_listen=127.0.0.1:0 --http_port_file="$work/worker.http" \
  2>"$work/worker.log" &
pids+=($!)
wait_file "$work/worker.http"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
prom_port=$(free_port)
cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: kfarm-scheduler
    static_configs: [{targets: ["127.0.0.1:$(cat "$work/scheduler.http")"]}]
  - job_name: kfarm-worker
    static_configs: [{targets: ["127.0.0.1:$(cat "$work/worker.http")"]}]
YAML
"$prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn 2>"$work/prometheus.log" &
pids+=($!)

# Actions while Prometheus scrapes: distinct commands, so none is a cache hit.
remote=(--remote "grpc://127.0.0.1:$(cat "$work/port")")
for i in 1 2 3 4 5; do
  for _ in $(seq 60); do
    "$bin/kfarm" "${remote[@]}" run -- /bin/sh -c "echo action $i" >"$work/run.out" 2>&1 && break
    sleep 1  # The worker may still be connecting.
  done
  grep -q "action $i" "$work/run.out" || fail "kfarm run $i: $(cat "$work/run.out")"
done

# The value of a PromQL query, once Prometheus has scraped what it needs (up to 30 s).
query() {
  python3 - "$prom_port" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
port, q = sys.argv[1], sys.argv[2]
url = "http://127.0.0.1:%s/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q}))
try:
    data = json.load(urllib.request.urlopen(url, timeout=5))
except Exception:
    print(0); sys.exit()
result = data.get("data", {}).get("result", [])
print(sum(float(r["value"][1]) for r in result) if result else 0)
PY
}
expect_at_least() {  # QUERY MIN WHAT
  local v=0
  for _ in $(seq 60); do
    v=$(query "$1")
    python3 -c "import sys; sys.exit(0 if float('$v') >= float('$2') else 1)" && break
    sleep 0.5
  done
  python3 -c "import sys; sys.exit(0 if float('$v') >= float('$2') else 1)" ||
    fail "$3: $1 is $v, expected at least $2"
  echo "ok - $3: $1 = $v"
}
expect_at_least 'sum(up{job=~"kfarm-.*"})' 2 "Prometheus scrapes the scheduler and the worker"
expect_at_least 'sum(kfarm_execution_results_total{status="OK",exit_code="0"})' 5 \
  "the scheduler counted the results"
expect_at_least 'sum(kfarm_execution_queued_seconds_count)' 5 "queued times were observed"
expect_at_least 'sum(kfarm_blob_access_operations_total{store="cas",operation="write",outcome="ok"})' 1 \
  "CAS writes were counted"
expect_at_least 'sum(kfarm_worker_slots)' 2 "the worker's slots are known"
expect_at_least 'sum(kfarm_worker_actions_total{status="OK"})' 5 "the worker counted its actions"
expect_at_least 'sum(kfarm_worker_execution_seconds_count)' 5 "execution times were observed"
echo "prometheus scrape test passed"
