#!/usr/bin/env bash
# The scheduler's status page in a real browser (Debian's Chromium, headless) while a local farm
# runs a build: a few C files compiled with `kfarm run` as one build, one action that runs on,
# and one whose command line and output are hostile HTML. The DOM Chromium built must show the
# build, the workers and the actions, and contain no element the hostile text tried to inject;
# the action's own page must show its command, output and timeline. Screenshots of both pages
# are kept in $KFARM_ARTIFACTS (default: build/test-artifacts) for a person to look at.
# Usage: tests/status_page/chromium_test.sh BIN_DIR
set -euo pipefail
bin=$(cd "${1:?usage: chromium_test.sh BIN_DIR}" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
artifacts=${KFARM_ARTIFACTS:-$root/build/test-artifacts}
mkdir -p "$artifacts"
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "not ok - no chromium: deploy/setup.sh installs Debian's" >&2; exit 1; }

source "$(dirname "$0")/../farm_lib.sh"
farm_test_init chromium

"$bin/kfarm" up --listen=127.0.0.1:0 --http_listen=127.0.0.1:0 --data_dir="$work/farm" \
  --port_file="$work/port" --workers=2 --slots=2 --sandbox=bubblewrap >"$work/up.log" 2>&1 &
pids+=($!)
wait_file "$work/port"
wait_file "$work/farm/scheduler.http-port"
remote="grpc://127.0.0.1:$(cat "$work/port")"
page="http://127.0.0.1:$(cat "$work/farm/scheduler.http-port")"

# The build: four translation units, one invocation id, as a build tool would send.
mkdir -p "$work/src"
for i in 1 2 3 4; do
  printf 'int f%d(int x) { return x * %d; }\n' "$i" "$i" >"$work/src/f$i.c"
done
build_id="status-page-demo"
for i in 1 2 3 4; do
  "$bin/kfarm" run --remote="$remote" --invocation_id="$build_id" --input="$work/src" \
    --out_dir="$work/out" --outputs="f$i.o" --env=PATH=/usr/bin:/bin -- gcc -c "f$i.c" -o "f$i.o" \
    >>"$work/run.log" 2>&1 || fail "compiling f$i.c on the farm"
done
[ -s "$work/out/f4.o" ] || fail "no f4.o came back"
"$bin/kfarm" run --remote="$remote" --invocation_id="$build_id" --no_cache -- \
  /bin/sh -c "echo '<script>document.title=\"pwned\"</script><img src=x onerror=alert(1)>'; exit 4" \
  >>"$work/run.log" 2>&1 && fail "the hostile action should exit 4"
# Still running while the browser looks.
"$bin/kfarm" run --remote="$remote" --invocation_id="$build_id" --no_cache -- /bin/sleep 30 \
  >>"$work/run.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  "$bin/kfarm" status --remote="$remote" | grep -q "sleep 30" && break
  sleep 0.1
done

browse() {  # browse OUT.html URL [screenshot.png]
  local flags=(--headless --no-sandbox --disable-gpu --no-first-run --no-default-browser-check
               --disable-background-networking --disable-component-update --disable-sync
               --user-data-dir="$work/chromium-profile" --window-size=1400,1100)
  timeout 60 "$chromium" "${flags[@]}" --dump-dom "$2" >"$1" 2>>"$work/chromium.log" ||
    fail "chromium could not load $2"
  if [ -n "${3:-}" ]; then
    rm -f "$3"
    timeout 60 "$chromium" "${flags[@]}" --screenshot="$3" "$2" >>"$work/chromium.log" 2>&1 ||
      fail "chromium could not take a screenshot of $2"
    [ "$(head -c 8 "$3" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "$3 is not a PNG"
  fi
}

browse "$work/status.html" "$page/" "$artifacts/status-page.png"
dom="$work/status.html"
grep -q "<tr class=\"build\" data-invocation=\"$build_id\">" "$dom" || fail "the build is not on the page"
grep -q "data-worker=\"local-0\"" "$dom" && grep -q "data-worker=\"local-1\"" "$dom" ||
  fail "the workers are not on the page"
grep -q "gcc -c f3.c -o f3.o" "$dom" || fail "the build's compiles are not listed"
grep -Eq "<code>sleep 30</code>|>sleep 30</a>" "$dom" || fail "the running action is not shown"
grep -q "exit 4" "$dom" || fail "the failed action is not shown"
# The hostile command is text: the DOM holds no element it tried to add, and the title is ours.
grep -qi "<img" "$dom" && fail "an <img> element was injected"
grep -q "<script" "$dom" && fail "a <script> element was injected"
grep -q "<title>kfarm scheduler</title>" "$dom" || fail "the page's title changed"

# The failed action's own page, reached as a person would: its link on the status page.
link=$(grep -o 'href="/operation?name=[^"]*"[^<]*</a></td><td><code>[^<]*</code></td><td><code>sh -c' "$dom" |
       head -1 | sed -e 's/^href="//' -e 's/".*//' -e 's/&amp;/\&/g')
[ -n "$link" ] || fail "no link to the hostile action's page"
browse "$work/action.html" "$page$link" "$artifacts/operation-page.png"
action="$work/action.html"
grep -q '<pre id="stdout">&lt;script&gt;document.title="pwned"&lt;/script&gt;&lt;img' "$action" ||
  fail "the action's stdout is not shown as text"
grep -q '<pre id="command">/bin/sh -c' "$action" || fail "the command is not shown"
for phase in queued "input fetch" execution "output upload"; do
  grep -q "data-phase=\"$phase\"" "$action" || fail "the timeline has no $phase phase"
done
grep -qi "<img" "$action" && fail "an <img> element was injected into the action page"
grep -q "<script" "$action" && fail "a <script> element was injected into the action page"
echo "ok - the status page in Chromium: build, workers, running and failed actions, escaped;" \
     "screenshots in $artifacts"
