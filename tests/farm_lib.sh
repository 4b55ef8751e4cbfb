# Shell helpers for the tests that run kfarm's binaries as processes (sourced, not run):
# `farm_test_init NAME` makes $work (removed at exit), `pids+=($!)` registers a process to stop
# at exit, `fail MESSAGE` ends the test showing the tail of every $work/*.log, and
# `wait_file PATH` waits up to 30 s for a file to be written (a port file, say).
farm_test_init() {
  work=$(mktemp -d "/tmp/kfarm-$1.XXXXXX")
  pids=()
  trap farm_test_cleanup EXIT
}
farm_test_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
fail() {
  echo "not ok - $*" >&2
  for log in "$work"/*.log; do echo "--- $log" >&2; tail -15 "$log" >&2; done
  exit 1
}
wait_file() { for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.1; done; fail "no $1"; }
