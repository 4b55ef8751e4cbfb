#!/usr/bin/env bash
# The benchmark table, one command: sets up, builds, runs every benchmark side by side on this
# machine, prints each one's own table, then the summary table, and writes the summary into
# docs/benchmarks.md (between the bench markers) with the date, the CPU and the kernel.
# Every row of the summary is kfarm's figure against a baseline measured in the same run, on the
# same machine, both as median (min–max) over the repeats, with their ratio run by run and a
# verdict (bench/summarize.py): machines differ several-fold in what a process or a page fault
# costs, and only a ratio to what the same machine does without kfarm carries over.
#  1. fixture modfinal on 6.12 and 7.2: kbuild -j2 vs farm cold vs warm; and pipelined with the
#     vmlinux link
#  2. per-action overhead and throughput (exec_bench)
#  3. scheduler dispatch rate with fake workers (dispatch_bench)
#  4. 64 workers x 2000 sleeps, scheduler CPU growth (scale_bench)
#  5. replicated real modules at 1k/2k/4k and 6. bytes moved (distro_bench)
#  plus the storage figures (storage_bench).
# Usage: bench/run_all.sh [--no-readme | --modfinal-only]   (about 25 minutes on 2 cores with the
# fixtures cached; --modfinal-only: section 1 alone, its rows printed, docs/benchmarks.md left alone;
# KFARM_BENCH_KERNELS chooses the kernels of section 1, default "6.12 7.2";
# KFARM_BENCH_REPEATS the repeats of each measure, default 3, KFARM_BENCH_MODFINAL_REPEATS those
# of section 1, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/setup.sh
bash deploy/build.sh
bin=$PWD/build/bin
out=$(mktemp -d /tmp/kfarm-bench.XXXXXX)
farm_pid=""
stop_farm() {
  if [ -n "$farm_pid" ]; then kill "$farm_pid" 2>/dev/null || true; wait "$farm_pid" 2>/dev/null || true; fi
  farm_pid=""
}
trash=$(mktemp -d /tmp/kfarm-bench-trash.XXXXXX)
trap 'stop_farm; rm -rf "$out" "${tree:-}" "$trash"' EXIT

export KBUILD_BUILD_TIMESTAMP=2026-01-01 KBUILD_BUILD_USER=kfarm KBUILD_BUILD_HOST=kfarm
use_fixture() {  # VERSION: sets $fixture and $tree (the path the fixture was built at)
  put_aside
  fixture=$(bash tests/kernel/build_fixture.sh "$1")
  tree=$(cat "$fixture/.kfarm-build-path")
}
# Each copy of the tree leaves GBs of dirty pages; flushed before anything is timed, so that
# writeback (and the throttling of writers it brings) does not land on whatever runs next.
# Used copies are moved aside and deleted at the end: on an ext4 without a journal (this VM's),
# every file created within a minute of mass deletions scans past the recently freed inodes —
# a fresh copy took 36 s instead of 8 s, and the builds timed right after it paid the same per
# file they create. Deleted first only when the disk could not hold another copy.
put_aside() {
  [ -n "${tree:-}" ] && [ -e "$tree" ] || return 0
  if [ "$(df --output=avail -B1 "$trash" | tail -1)" -lt "$((3 * $(du -sb "$tree" | cut -f1)))" ]; then
    rm -rf "${trash:?}"/*
  fi
  mv "$tree" "$trash/$(date +%s%N)"
}
fresh_tree() { put_aside; cp -a "$fixture" "$tree"; sync; }
start_farm() {  # NAME: a fresh local farm, 2 workers x 1 slot; sets $remote
  stop_farm
  rm -f "$out/$1.port"  # A name used for an earlier kernel: its port is not this farm's.
  "$bin/kfarm" up --listen=127.0.0.1:0 --data_dir="$out/$1" --port_file="$out/$1.port" \
    --workers=2 --slots=1 >"$out/$1.log" 2>&1 &
  farm_pid=$!
  for _ in $(seq 100); do [ -s "$out/$1.port" ] && break; sleep 0.1; done
  remote=grpc://127.0.0.1:$(cat "$out/$1.port")
  sleep 1  # Workers registered.
}
seconds() {  # COMMAND...: runs it quietly, prints its wall time in seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >"$out/last.log" 2>&1 || { cat "$out/last.log" >&2; echo "FAILED: $*" >&2; exit 1; }
  t1=$(date +%s.%N)
  echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}'
}
repeats=${KFARM_BENCH_REPEATS:-3}
modfinal_repeats=${KFARM_BENCH_MODFINAL_REPEATS:-2}
samples=$out/samples
sample() { echo "$1 $2" >>"$samples"; }  # KEY VALUE: one repeat's figure, for summarize.py
modfinal() { "$bin/kfarm" modfinal --remote="$remote" -C "$tree" --make_args=KBUILD_BUILD_TIMESTAMP=2026-01-01 "$@"; }

# 7.x links vmlinux.unstripped, then copies it to vmlinux: both go for "an unlinked vmlinux".
unlink_vmlinux() { rm -f "$tree/vmlinux" "$tree/vmlinux.unstripped"; }
modfinal_rows() {  # VERSION: section 1 on that version's fixture; appends its summary rows
  local v=$1
  use_fixture "$v"
  echo "== 1. modfinal on linux $v ($(wc -l <"$fixture/modules.order") modules, $modfinal_repeats repeats)"
  # kbuild's modfinal makefile alone, run the way `make modules` runs it after modpost: the step
  # that --objects_current replaces (no walk of the tree).
  kbuild_modfinal_only() {
    make -s -C "$tree" -j2 --no-print-directory \
      '--eval=kfarm-bench-modfinal: ; $(Q)$(MAKE) -f $(srctree)/scripts/Makefile.modfinal __modfinal' \
      kfarm-bench-modfinal
  }
  vmlinux_then_modfinal() { make -s -C "$tree" -j2 vmlinux && modfinal; }
  local k=mf_${v}_ r
  for r in $(seq "$modfinal_repeats"); do
    # kbuild and kfarm alternate, each on a fresh copy of the tree.
    fresh_tree; kbuild=$(seconds make -s -C "$tree" -j2 modules)
    fresh_tree; start_farm cold; cold=$(seconds modfinal)
    warm=$(seconds modfinal)  # Make's walk skipped: nothing it reads changed.
    warm_walk=$(seconds modfinal --always_walk)
    fresh_tree; kbuild_final=$(seconds kbuild_modfinal_only)
    fresh_tree; start_farm current; cold_current=$(seconds modfinal --objects_current)
    warm_current=$(seconds modfinal --objects_current)
    fresh_tree; unlink_vmlinux; kbuild_link=$(seconds make -s -C "$tree" -j2 modules)
    fresh_tree; unlink_vmlinux; start_farm follow
    follow=$(seconds modfinal --follow --timeline="$out/follow-$v.tsv")
    early=$(grep -oE "with [0-9]+ modules already linked" "$out/last.log" | grep -oE "[0-9]+" || echo 0)
    btf_early=$(grep -oE "\([0-9]+ BTF steps done before\)" "$out/last.log" | grep -oE "[0-9]+" || echo 0)
    fresh_tree; unlink_vmlinux; start_farm seq
    sequential=$(seconds vmlinux_then_modfinal)
    stop_farm
    printf 'run %s: kbuild -j2 %s s (its modfinal makefile alone %s s); kfarm cold %s s; warm %s s (walking the tree %s s); with --objects_current cold %s s, warm %s s\n' \
      "$r" "$kbuild" "$kbuild_final" "$cold" "$warm" "$warm_walk" "$cold_current" "$warm_current"
    printf 'run %s, from an unlinked vmlinux: kbuild -j2 %s s; vmlinux then kfarm %s s; kfarm --follow %s s (%s modules linked, %s BTF steps done before vmlinux)\n' \
      "$r" "$kbuild_link" "$sequential" "$follow" "$early" "$btf_early"
    sample "${k}kbuild" "$kbuild"; sample "${k}cold" "$cold"; sample "${k}warm" "$warm"
    sample "${k}kbuild_final" "$kbuild_final"; sample "${k}current_cold" "$cold_current"
    sample "${k}current_warm" "$warm_current"
    sample "${k}warm_walk" "$warm_walk"
    sample "${k}walk" "$(awk -v a="$warm_walk" -v b="$warm_current" 'BEGIN {printf "%.2f", a - b}')"
    sample "${k}kbuild_link" "$kbuild_link"; sample "${k}follow" "$follow"
    sample "${k}sequential" "$sequential"
  done
  # The last run's own data, drawn: when each module's link and BTF step ran against the vmlinux
  # link.
  bash bench/plot_timeline.sh "$out/follow-$v.tsv" "docs/modfinal-follow-$v.png" \
    "kfarm modfinal --follow, linux $v, 2 workers" >/dev/null
}
kernels=${KFARM_BENCH_KERNELS:-6.12 7.2}
for v in $kernels; do modfinal_rows "$v"; done
put_aside
machine="$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), Linux $(uname -r)"
if [ "${1:-}" = "--modfinal-only" ]; then
  printf '\n== section 1 (%s)\n' "$machine"
  python3 bench/summarize.py "$samples" "$kernels"
  exit 0
fi
use_fixture 6.12

raw() { grep '^raw ' "$1" | cut -d' ' -f2- >>"$samples"; }  # FILE: a benchmark's raw figures
echo "== 2. per-action overhead, $repeats runs"
for r in $(seq "$repeats"); do
  "$bin/exec_bench" 2>/dev/null | tee "$out/exec.txt"
  ms() { grep -F -- "$1" "$out/exec.txt" | head -1 | grep -oE "[0-9.]+ ms" | head -1 | cut -d' ' -f1; }
  sample exec_median_ms "$(ms "runs, median")"; sample exec_p99_ms "$(ms "runs, p99")"
  sample exec_spawn_ms "$(ms "bare posix_spawn")"; sample exec_bwrap_ms "$(ms "bare bubblewrap")"
done
echo "== 3. dispatch rate";        "$bin/dispatch_bench" --repeats="$repeats" 2>/dev/null | tee "$out/dispatch.txt"
raw "$out/dispatch.txt"
echo "== 4. scale simulation";     "$bin/scale_bench" --repeats="$repeats" 2>/dev/null | tee "$out/scale.txt"
raw "$out/scale.txt"
sample scale_trivial_cpu_us "$(grep -F "4000 distinct trivial" "$out/scale.txt" | grep -oE "[0-9]+ us/action" | cut -d' ' -f1)"
echo "== 5./6. distro scale";      fresh_tree
"$bin/distro_bench" --tree="$tree" --make_args=KBUILD_BUILD_TIMESTAMP=2026-01-01 2>/dev/null | tee "$out/distro.txt"
sample distro_cpu_us_per_module "$(grep -F "4000 modules: wall" "$out/distro.txt" | grep -oE "[0-9]+ us/module" | cut -d' ' -f1)"
put_aside
echo "== storage";                 "$bin/storage_bench" 2>/dev/null | tee "$out/storage.txt"
raw "$out/storage.txt"

cell() {  # FILE PATTERN [COLUMN]: a cell of the first table row matching PATTERN
  grep -F -- "$2" "$1" | head -1 | awk -F'|' -v c="${3:-3}" '{gsub(/^ +| +$/, "", $c); print $c}'
}
summary=$out/summary.md
{
  echo "Measured $(date -u +%Y-%m-%d) on $machine; client, scheduler and workers sharing the cores; \`bench/run_all.sh\`, $repeats repeats of each measure ($modfinal_repeats of section 1)."
  echo
  python3 bench/summarize.py "$samples" "$kernels"
  echo
  echo "Other figures from the same run, absolute (context, no baseline):"
  echo
  echo "| # | measure | result |"
  echo "| --- | --- | --- |"
  echo "| 2 | 16 concurrent clients | $(cell "$out/exec.txt" "concurrent clients") |"
  echo "| 4 | same simulation, per action: run (spawn to reap, mean), gap before the worker's next; CPU: scheduler, workers, client; the action itself | $(cell "$out/scale.txt" "run (spawn to reap"); $(cell "$out/scale.txt" "CPU per action") |"
  for n in 1000 2000 4000; do
    echo "| 4 | $n trivial actions: wall, scheduler CPU | $(cell "$out/scale.txt" "$n distinct trivial") |"
  done
  for n in 1000 2000 4000; do
    echo "| 5 | $n replicated real modules: wall, scheduler CPU | $(cell "$out/distro.txt" "$n modules: wall") |"
  done
  echo "| 6 | bytes per module over the wire, 4000 modules ($(grep -oE "inputs [0-9]+ KiB per module" "$out/distro.txt") besides the base BTF) | $(cell "$out/distro.txt" "4000 modules: bytes") |"
  echo "| 6 | base BTF, 8 workers, modules 2 at a time: affinity on / off | $(cell "$out/distro.txt" "affinity on") / $(cell "$out/distro.txt" "affinity off") |"
  echo "| 6 | 8 workers, 40 actions sharing 2 MiB: affinity on / off | $(cell "$out/scale.txt" "affinity on") / $(cell "$out/scale.txt" "affinity off") |"
  echo "| — | ByteStream write 256 MiB, verified | $(cell "$out/storage.txt" "ByteStream write") |"
  echo "| — | FindMissingBlobs 10k digests | $(cell "$out/storage.txt" "FindMissingBlobs") |"
} >"$summary"
echo
echo "== summary"
cat "$summary"
if [ "${1:-}" != "--no-readme" ]; then
  python3 - "$summary" docs/benchmarks.md <<'EOF'
import sys
summary, readme = sys.argv[1], sys.argv[2]
text = open(readme).read()
begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
if begin not in text or end not in text:
    sys.exit(readme + " has no bench markers")
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(readme, "w").write(head + begin + "\n" + open(summary).read() + end + tail)
EOF
  echo "docs/benchmarks.md updated"
fi
