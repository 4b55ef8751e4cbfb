#!/usr/bin/env bash
# kfarm modfinal on one real kernel fixture (6.1, 6.12 or 7.2), through local farms of real
# processes:
#  - every .ko and .M.ko.cmd is byte-identical to what kbuild's own modfinal writes from the
#    same objects with the same deterministic flags;
#  - a plain `make modules` afterwards changes no .ko (contents and mtimes);
#  - a second run is all cache hits with identical files; changing one module's .o re-executes
#    only that module; a vmlinux with other BTF re-executes every BTF step and no link;
#  - the module-hashes root and proofs are written and verify;
#  - a worker with another pahole is never chosen; with only such workers the error names the
#    tool and both versions;
#  - --follow, from a tree whose vmlinux is not linked, overlaps the module links with the vmlinux
#    link and still writes kbuild's bytes; --objects_current (no walk of the tree) too.
#  - the default path skips make's walk while nothing it reads changed, with the same bytes, and
#    walks again when a source or the environment changed.
# Usage: tests/kernel/modfinal_test.sh BIN_DIR [VERSION]   (default 6.12)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${1:?usage: modfinal_test.sh BIN_DIR [VERSION]}" && pwd)
version=${2:-6.12}
source "$here/fixture_lib.sh"  # ts, det_args, kbuild_reference, differ_from_kbuild

fixture=$(bash "$here/build_fixture.sh" "$version")
work=$(mktemp -d /tmp/kfarm-modfinal.XXXXXX)
# The tree is used where the fixture was built (absolute paths in kbuild's tools and in the
# DWARF of every .o, .mod.o included), so kbuild's reference and kfarm's run share that path,
# one after the other.
tree=$(cat "$fixture/.kfarm-build-path")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work" "$tree"
}
trap cleanup EXIT
fail() { echo "modfinal test FAILED: $*" >&2; exit 1; }
checks=0
pass() { checks=$((checks + 1)); echo "ok - $*"; }

ref=$(kbuild_reference "$fixture" "$tree")

rm -rf "$tree"
cp -a "$fixture" "$tree"
nmods=$(wc -l < "$tree/modules.order")

start_farm() {  # NAME; sets $port
  "$bin/kfarm" up --listen=127.0.0.1:0 --data_dir="$work/$1" --port_file="$work/$1.port" \
    --workers=2 --slots=1 >"$work/$1.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/$1.port" ] && break; sleep 0.1; done
  port=$(cat "$work/$1.port")
}
modfinal() { "$bin/kfarm" modfinal --remote="grpc://127.0.0.1:$port" -C "$tree" --make_args="$ts" "${det_args[@]}" "$@"; }

start_farm farm
modfinal --module_hashes --v >"$work/run1.log" 2>&1 || { cat "$work/run1.log"; fail "first run"; }
grep -q "$nmods modules, $nmods executed on the farm, 0 cache hits, 0 failed" "$work/run1.log" ||
  { tail -5 "$work/run1.log"; fail "first run summary"; }
# `make modules` stops after modpost, and kfarm runs the modfinal makefile with the build-order
# rules, so links reach the farm during the .mod.o compiles rather than after the last one.
grep -q "KBUILD_MODPOST_NOFINAL=1.*Makefile.modfinal -f [^ ]*kfarm-recipe-[^ ]*\.mk __modfinal" "$work/run1.log" ||
  { grep -m1 "make" "$work/run1.log"; fail "the default path's make runs the modfinal makefile without the build order"; }
[ "$(grep -c '^  LD \[M\]  ' "$work/run1.log")" -eq "$nmods" ] || fail "LD [M] lines"
grep -q "actions: $nmods links executed, 0 links from the action cache; $nmods BTF steps executed" "$work/run1.log" ||
  { tail -2 "$work/run1.log"; fail "first run: one link and one BTF step per module"; }
pass "linux $version, first run: $nmods modules executed on the farm ($(grep "^kfarm modfinal:" "$work/run1.log" | grep -oE "[0-9.]+ s \(.*"))"

differ=$(differ_from_kbuild "$ref" "$tree")
[ "$differ" -eq 0 ] || fail "$differ files differ from kbuild's"
pass "all $nmods .ko and .ko.cmd files are byte-identical to kbuild's"

snapshot() { (cd "$tree" && find . -name "*.ko" -printf '%p %T@ %s\n' | sort; find . -name "*.ko" -print0 | sort -z | xargs -0 sha256sum); }
snapshot >"$work/before"
make -s -C "$tree" -j2 modules "${det_args[@]}" >"$work/make.log" 2>&1 || { cat "$work/make.log"; fail "make modules"; }
snapshot >"$work/after"
cmp -s "$work/before" "$work/after" || { diff "$work/before" "$work/after" | head; fail "make modules touched a .ko"; }
pass "a plain make modules afterwards relinks nothing and regenerates no BTF"

root=$(grep -oE "modules.hashes.root: [0-9a-f]{64}" "$work/run1.log" | cut -d' ' -f2)
[ -n "$root" ] && [ "$(stat -c %s "$tree/modules.hashes.root")" -eq 36 ] || fail "module hashes root"
[ "$(find "$tree" -name '*.merkle' | wc -l)" -eq "$nmods" ] || fail "one .merkle per module"
python3 "$here/verify_module_hashes.py" "$tree" || fail "module-hashes proofs do not verify"
pass "module-hashes root $root and $nmods proofs verify"

modfinal >"$work/run2.log" 2>&1 || { cat "$work/run2.log"; fail "second run"; }
grep -q "$nmods modules, 0 executed on the farm, $nmods cache hits, 0 failed" "$work/run2.log" ||
  { tail -3 "$work/run2.log"; fail "second run should be all cache hits"; }
snapshot | grep -v " [0-9.]* [0-9]*$" >"$work/after2"; grep -v " [0-9.]* [0-9]*$" "$work/before" >"$work/before2"
cmp -s "$work/before2" "$work/after2" || fail "cache hits wrote different files"
pass "second run: $nmods cache hits, identical files"

printf '\0' >>"$tree/fs/nls/nls_cp437.o"
modfinal >"$work/run3.log" 2>&1 || { cat "$work/run3.log"; fail "third run"; }
grep -q "$nmods modules, 1 executed on the farm, $((nmods - 1)) cache hits" "$work/run3.log" ||
  { tail -3 "$work/run3.log"; fail "changing one .o should re-execute exactly one module"; }
pass "changing one module's .o re-executes only that module"

# A vmlinux with different BTF: the same types re-encoded in another order (pahole -j).
(cd "$tree" && pahole -J -j --btf_gen_floats --lang_exclude=rust \
   --btf_encode_detached="$work/other.btf" vmlinux >/dev/null 2>&1 &&
 objcopy -O binary --only-section=.BTF vmlinux "$work/this.btf" &&
 ! cmp -s "$work/this.btf" "$work/other.btf" &&
 objcopy --update-section .BTF="$work/other.btf" vmlinux 2>/dev/null) ||
  fail "could not make a vmlinux with different BTF"
modfinal >"$work/run4b.log" 2>&1 || { cat "$work/run4b.log"; fail "run with another vmlinux BTF"; }
grep -q "$nmods modules, $nmods executed on the farm, 0 cache hits" "$work/run4b.log" ||
  { tail -3 "$work/run4b.log"; fail "a different base BTF must re-execute every module"; }
# The links do not read vmlinux: all come from the action cache (kbuild 7.x relinks them all).
grep -q "actions: 0 links executed, $nmods links from the action cache; $nmods BTF steps executed" "$work/run4b.log" ||
  { tail -2 "$work/run4b.log"; fail "a different base BTF must re-execute the BTF steps and no link"; }
pass "a vmlinux with different BTF re-executes all $nmods BTF steps and 0 links"

# Tool identity: a scheduler with a worker offering another pahole, then with only that one.
ld_v=$(ld --version | head -1); oc_v=$(objcopy --version | head -1); real_pahole=$(pahole --version)
printf 'execution {\n  no_worker_grace_ms: 1500\n  heartbeat_interval_ms: 500\n}\n' >"$work/sched.conf"
"$bin/kfarm-scheduler" --config="$work/sched.conf" --listen=127.0.0.1:0 --data_dir="$work/s2" \
  --port_file="$work/s2.port" 2>"$work/s2.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/s2.port" ] && break; sleep 0.1; done
port=$(cat "$work/s2.port")
"$bin/kfarm-worker" --scheduler="127.0.0.1:$port" --data_dir="$work/wrong" --worker_id=wrong-pahole \
  --slots=1 --detect_tools=false \
  --property="kfarm.tool.ld=$ld_v,kfarm.tool.objcopy=$oc_v,kfarm.tool.pahole=v9.99" 2>"$work/wrong.log" &
pids+=($!)
"$bin/kfarm-worker" --scheduler="127.0.0.1:$port" --data_dir="$work/right" --worker_id=right \
  --slots=1 2>"$work/right.log" &
right=$!
pids+=($right)
sleep 1
rm -f "$tree"/fs/nls/*.ko
modfinal --instance=tools-check >"$work/run4.log" 2>&1 || { cat "$work/run4.log"; fail "run with mixed workers"; }
# The links need only ld, so it may link; a BTF step (whose inputs include the base) never.
base_hex=$(grep -oE "BTF base: the .BTF of [^ ]+ \([0-9a-f]{64}" "$work/run4.log" | grep -oE "[0-9a-f]{64}") ||
  { grep "BTF base" "$work/run4.log"; fail "no BTF base named"; }
grep -q "^+$base_hex " "$work/wrong/cache/plain/journal" 2>/dev/null &&
  fail "the worker with another pahole fetched the base BTF: it ran a BTF step"
grep -q "^+$base_hex " "$work/right/cache/plain/journal" || fail "the right worker never fetched the base BTF"
pass "a worker with another pahole ($real_pahole wanted, v9.99 offered) is never given a BTF step"

kill "$right"
wait "$right" 2>/dev/null || true
sleep 2
if modfinal --instance=tools-check-2 -k >"$work/run5.log" 2>&1; then fail "only wrong workers: should fail"; fi
grep -q "kfarm.tool.pahole=$real_pahole" "$work/run5.log" && grep -q "v9.99" "$work/run5.log" ||
  { tail -5 "$work/run5.log"; fail "the error should name the tool and both versions"; }
pass "with only such workers the client fails naming kfarm.tool.pahole, $real_pahole and v9.99"

# Pipelined with the vmlinux link: from a tree whose vmlinux is not linked yet, --follow links it
# locally while the farm links the modules, then runs their BTF steps; same bytes as kbuild.
rm -rf "$tree"
cp -a "$fixture" "$tree"
rm -f "$tree/vmlinux" "$tree/vmlinux.unstripped"  # 7.x links vmlinux.unstripped first
start_farm farm2
modfinal --follow --module_hashes >"$work/run6.log" 2>&1 || { cat "$work/run6.log"; fail "--follow run"; }
[ -f "$tree/vmlinux" ] || fail "--follow did not link vmlinux"
early=$(grep -oE "with [0-9]+ modules already linked" "$work/run6.log" | grep -oE "[0-9]+")
[ "${early:-0}" -gt 0 ] || { tail -3 "$work/run6.log"; fail "no module link overlapped the vmlinux link"; }
differ=$(differ_from_kbuild "$ref" "$tree")
[ "$differ" -eq 0 ] || fail "--follow: $differ files differ from kbuild's"
grep -q "modules.hashes.root: $root" "$work/run6.log" || fail "--follow: another module-hashes root"
# The base BTF is read from the link's first BTF object, before vmlinux is linked.
btf_early=$(grep -oE "base BTF read from [^ ]+ at [0-9.]+ s \([0-9]+ BTF steps" "$work/run6.log" |
  grep -oE "[0-9]+ BTF" | grep -oE "[0-9]+") || { tail -3 "$work/run6.log"; fail "--follow: the base was not read early"; }
grep -q "is not vmlinux's" "$work/run6.log" && fail "--follow: the early base differed from vmlinux's"
pass "--follow: $early module links overlapped the vmlinux link, $btf_early BTF steps ran before it ended; all $nmods .ko byte-identical to kbuild's"

# --follow on a tree whose vmlinux is linked already: the link is a no-op that may end before
# make names the base; every step is a cache hit.
modfinal --follow >"$work/run6b.log" 2>&1 || { cat "$work/run6b.log"; fail "--follow on a linked tree"; }
grep -q "$nmods modules, 0 executed on the farm, $nmods cache hits, 0 failed" "$work/run6b.log" ||
  { tail -3 "$work/run6b.log"; fail "--follow on a linked tree: cache hits"; }
pass "--follow again on the linked tree: $nmods cache hits"

# --objects_current on that tree (objects and modpost current): kbuild's modfinal makefile alone,
# the same actions and bytes.
find "$tree" -name "*.ko" -delete
modfinal --objects_current >"$work/run7.log" 2>&1 || { cat "$work/run7.log"; fail "--objects_current run"; }
# The same two actions per module as --follow's: all from the action cache on this farm.
grep -q "$nmods modules, 0 executed on the farm, $nmods cache hits, 0 failed" "$work/run7.log" ||
  { tail -3 "$work/run7.log"; fail "--objects_current summary"; }
differ=$(differ_from_kbuild "$ref" "$tree")
[ "$differ" -eq 0 ] || fail "--objects_current: $differ files differ from kbuild's"
modfinal --objects_current >"$work/run8.log" 2>&1 || { cat "$work/run8.log"; fail "--objects_current again"; }
grep -q "$nmods modules, 0 executed on the farm, $nmods cache hits" "$work/run8.log" || { tail -3 "$work/run8.log"; fail "--objects_current warm"; }
pass "--objects_current: kbuild's bytes, then $nmods cache hits in $(grep "^kfarm modfinal:" "$work/run8.log" | grep -oE "[0-9.]+ s \(" | head -1)"

# The second --objects_current run started the modfinal makefile directly, in the environment the
# first one captured from the top Makefile. With every .ko and .mod.o gone, that environment
# alone must compile the .mod.o files and give kbuild's bytes; a touched Makefile reads it again.
grep -q "top Makefile not read" "$work/run8.log" || { grep "^kfarm modfinal:" "$work/run8.log"; fail "kept make environment unused"; }
find "$tree" -name "*.ko" -delete -o -name "*.mod.o" -delete
modfinal --objects_current >"$work/run9.log" 2>&1 || { cat "$work/run9.log"; fail "--objects_current from the kept environment"; }
grep -q "top Makefile not read" "$work/run9.log" || { grep "^kfarm modfinal:" "$work/run9.log"; fail "kept make environment unused (run9)"; }
differ=$(differ_from_kbuild "$ref" "$tree" -name "*.ko" -o -name ".*.ko.cmd" -o -name "*.mod.o")
[ "$differ" -eq 0 ] || fail "kept make environment: $differ files differ from kbuild's"
touch "$tree/Makefile"
modfinal --objects_current >"$work/run10.log" 2>&1 || { cat "$work/run10.log"; fail "--objects_current after touching the Makefile"; }
if grep -q "top Makefile not read" "$work/run10.log"; then fail "a touched Makefile was not read"; fi
pass "kept make environment: .mod.o recompiled in it, kbuild's bytes; a touched Makefile is read again"

# Make's walk of the tree is skipped while nothing it reads changed since its last successful walk
# (kbuild/walk_record.h): the same actions and bytes; a changed source, or environment, walks.
find "$tree" -name "*.ko" -delete
modfinal >"$work/run11.log" 2>&1 || { cat "$work/run11.log"; fail "default path after --objects_current"; }
grep -q "make walks the tree: " "$work/run11.log" || { grep "^kfarm modfinal:" "$work/run11.log"; fail "the first default run did not walk"; }
modfinal >"$work/run12.log" 2>&1 || { cat "$work/run12.log"; fail "default path, nothing changed"; }
grep -qE "walk skipped: none of the [0-9]+ files it reads changed" "$work/run12.log" ||
  { grep -E "^kfarm modfinal:|make walks" "$work/run12.log"; fail "an unchanged tree was walked again"; }
grep -q "$nmods modules, 0 executed on the farm, $nmods cache hits, 0 failed" "$work/run12.log" ||
  { tail -3 "$work/run12.log"; fail "walk skipped: cache hits"; }
differ=$(differ_from_kbuild "$ref" "$tree")
[ "$differ" -eq 0 ] || fail "walk skipped: $differ files differ from kbuild's"
skipped_in=$(grep "^kfarm modfinal:" "$work/run12.log" | grep -oE "[0-9.]+ s \(" | head -1)
touch "$tree/fs/nls/nls_cp437.c"
modfinal >"$work/run13.log" 2>&1 || { cat "$work/run13.log"; fail "default path, a source touched"; }
grep -q "make walks the tree: fs/nls/nls_cp437.c changed" "$work/run13.log" ||
  { grep -E "^kfarm modfinal:|make walks" "$work/run13.log"; fail "a touched source did not make make walk"; }
[ "$tree/fs/nls/nls_cp437.o" -nt "$tree/fs/nls/nls_cp437.c" ] || fail "make did not recompile the touched source"
modfinal >"$work/run14.log" 2>&1 || { cat "$work/run14.log"; fail "default path after the walk"; }
grep -q "walk skipped" "$work/run14.log" || fail "the walk after a touched source was not recorded"
KFARM_TEST_UNRELATED=1 modfinal >"$work/run15.log" 2>&1 || { cat "$work/run15.log"; fail "default path, another environment"; }
grep -q "make walks the tree: the environment differs from the last walk's (KFARM_TEST_UNRELATED)" "$work/run15.log" ||
  { grep -E "^kfarm modfinal:|make walks" "$work/run15.log"; fail "another environment did not make make walk"; }
pass "the walk skipped while nothing changed ($nmods cache hits, kbuild's bytes, ${skipped_in% (}); a touched source or another environment walks"

echo "$checks passed, 0 failed"
