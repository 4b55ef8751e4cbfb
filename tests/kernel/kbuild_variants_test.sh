#!/usr/bin/env bash
# kfarm modfinal on what a kernel fixture's tree can become, through a local farm:
#  - a .ko rule kfarm does not know (a line added to Makefile.modfinal, as a future kernel might),
#    and a BTF command it cannot read: kfarm stops naming the kernel version, the makefile and the
#    line, before any module is linked, and leaves no .ko behind;
#  - 7.x with the pending kbuild patch "generate module BTF based on vmlinux.unstripped": the base
#    is the file the recipe names (vmlinux is given other BTF, so using it would show), and every
#    .ko and .cmd is byte-identical to kbuild's with the same change;
#  - an external module (tests/kernel/extmod, two objects, a .BTF_ids list) built as DKMS builds one, `make -C TREE
#    M=DIR`: `kfarm modfinal -C TREE M=DIR` writes kbuild's bytes (7.x: with .BTF.base, from
#    resolve_btfids --distill_base), then all cache hits.
# Usage: tests/kernel/kbuild_variants_test.sh BIN_DIR [VERSION]   (default 6.12)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(cd "${1:?usage: kbuild_variants_test.sh BIN_DIR [VERSION]}" && pwd)
version=${2:-6.12}
source "$here/fixture_lib.sh"  # ts, det_args, kbuild_reference, differ_from_kbuild

fixture=$(bash "$here/build_fixture.sh" "$version")
tree=$(cat "$fixture/.kfarm-build-path")
ext=/tmp/kfarm-extmod-$version  # Fixed: the module's DWARF records its directory.
work=$(mktemp -d /tmp/kfarm-variants.XXXXXX)
farm=""
cleanup() {
  [ -n "$farm" ] && kill "$farm" 2>/dev/null && wait "$farm" 2>/dev/null
  rm -rf "$work" "$tree" "$ext"
}
trap cleanup EXIT
fail() { echo "kbuild variants test FAILED (linux $version): $*" >&2; exit 1; }
checks=0
pass() { checks=$((checks + 1)); echo "ok - linux $version: $*"; }

"$bin/kfarm" up --listen=127.0.0.1:0 --data_dir="$work/farm" --port_file="$work/port" \
  --workers=2 --slots=1 >"$work/farm.log" 2>&1 &
farm=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
modfinal() { "$bin/kfarm" modfinal --remote="grpc://127.0.0.1:$(cat "$work/port")" --make_args="$ts" "${det_args[@]}" "$@"; }
no_ko() { [ "$(find "$tree" -name '*.ko' | wc -l)" -eq 0 ]; }
# 7.x with the pending patch: Makefile.modfinal names vmlinux.unstripped as the base.
to_unstripped() {
  sed -i 's|$(objtree)/vmlinux\b|$(objtree)/vmlinux.unstripped|g' scripts/Makefile.modfinal
  grep -q 'gen-btf.sh --btf_base $(objtree)/vmlinux.unstripped' scripts/Makefile.modfinal
  # vmlinux gets other BTF (the same types in another order): a module built against it differs.
  pahole -J -j --btf_gen_floats --lang_exclude=rust --btf_encode_detached=.kfarm-other.btf vmlinux >/dev/null
  objcopy --update-section .BTF=.kfarm-other.btf vmlinux
  rm .kfarm-other.btf
  # Through files: cmp -s stops at the first difference, and an objcopy still opening a pipe
  # whose reader had gone (/dev/stdout of a process substitution) blocked forever, holding the
  # test's output open.
  objcopy -O binary --only-section=.BTF vmlinux .kfarm-a.btf
  objcopy -O binary --only-section=.BTF vmlinux.unstripped .kfarm-b.btf
  local same=0
  cmp -s .kfarm-a.btf .kfarm-b.btf && same=1
  rm -f .kfarm-a.btf .kfarm-b.btf
  [ "$same" -eq 0 ]
}
# kbuild's reference for it, made (once per fixture) before this test's copy of the tree.
ref_unstripped=""
if [ -f "$fixture/vmlinux.unstripped" ]; then
  ref_unstripped=$(kbuild_reference "$fixture" "$tree" unstripped to_unstripped)
fi
# One copy of the tree (a kernel tree is large): each case below changes and restores it.
rm -rf "$tree"
cp -a "$fixture" "$tree"
mk=$tree/scripts/Makefile.modfinal
restore_makefile() { cp -a "$fixture/scripts/Makefile.modfinal" "$mk"; }

# 1. A recipe line kfarm does not know: the makefile's line, named.
line=$(grep -n '^	+$(call if_changed[_a-z]*,ld_ko_o' "$mk" | cut -d: -f1)
sed -i "${line}a\\	+\$(call cmd,sign_ko)" "$mk"
if modfinal -C "$tree" >"$work/unknown.log" 2>&1; then fail "an unknown .ko recipe line was accepted"; fi
release=$(cat "$tree/include/config/kernel.release")
grep -q "linux $release" "$work/unknown.log" && grep -q "scripts/Makefile.modfinal:$((line + 1)): \"+\$(call cmd,sign_ko)\"" "$work/unknown.log" ||
  { cat "$work/unknown.log"; fail "the error should name linux $release, Makefile.modfinal:$((line + 1)) and the line"; }
no_ko || fail "an unknown recipe left a .ko behind"
pass "an unknown line in the .ko rule stops: $(grep -o "does not understand.*line [^;]*" "$work/unknown.log" | head -c 160)"

restore_makefile

# ... and a BTF command it cannot read (the rule's lines are known; cmd_btf_ko's text is not).
btf_line=$(grep -n '^ *cmd_btf_ko *=' "$mk" | cut -d: -f1)
sed -i 's/--btf_base/--btf_base_v2/' "$mk"
if modfinal -C "$tree" >"$work/unknown-btf.log" 2>&1; then fail "an unknown BTF command was accepted"; fi
grep -q "linux $release, .*scripts/Makefile.modfinal:$btf_line (cmd_btf_ko)" "$work/unknown-btf.log" ||
  { cat "$work/unknown-btf.log"; fail "the error should name the version and cmd_btf_ko's line $btf_line"; }
no_ko || fail "an unknown BTF command left a .ko behind"
pass "a BTF command kfarm cannot read stops naming Makefile.modfinal:$btf_line (cmd_btf_ko); no .ko written"
restore_makefile

# 2. An external module, as DKMS builds one.
rm -rf "$ext" "$ext.pre" "$work/ext-ref"
mkdir -p "$ext"
cp "$here"/extmod/* "$ext/"
make -s -C "$tree" M="$ext" KBUILD_MODPOST_NOFINAL=1 modules "${det_args[@]}" >"$work/ext-make.log" 2>&1 ||
  { cat "$work/ext-make.log"; fail "building the external module's objects"; }
cp -a "$ext" "$ext.pre"
make -s -C "$tree" M="$ext" modules "${det_args[@]}" >"$work/ext-kbuild.log" 2>&1 ||
  { cat "$work/ext-kbuild.log"; fail "kbuild's modfinal of the external module"; }
mkdir -p "$work/ext-ref"
(cd "$ext" && find . -name "*.ko" -o -name ".*.ko.cmd" | cpio -pdm --quiet "$work/ext-ref")
[ -f "$work/ext-ref/kfarm_hello.ko" ] || fail "kbuild built no kfarm_hello.ko"
rm -rf "$ext"
mv "$ext.pre" "$ext"
modfinal -C "$tree" M="$ext" --module_hashes --v >"$work/ext.log" 2>&1 || { cat "$work/ext.log"; fail "kfarm modfinal M=$ext"; }
grep -q "1 modules, 1 executed on the farm, 0 cache hits, 0 failed" "$work/ext.log" || { tail -3 "$work/ext.log"; fail "external module summary"; }
differ=$(differ_from_kbuild "$work/ext-ref" "$ext")
[ "$differ" -eq 0 ] || fail "external module: $differ files differ from kbuild's"
[ -f "$ext/kfarm_hello.merkle" ] && [ -f "$ext/modules.hashes.root" ] || fail "external module: module hashes"
# The module's .BTF_ids list (two type ids) was patched by resolve_btfids: no id left zero.
ids=$(objcopy -O binary --only-section=.BTF_ids "$ext/kfarm_hello.ko" /dev/stdout | od -An -v -tu4 | xargs)
[ "$(wc -w <<<"$ids")" -eq 2 ] && ! grep -qw 0 <<<"$ids" || fail "external module: .BTF_ids not patched by resolve_btfids: [$ids]"
note=""
if readelf -S -W "$ext/kfarm_hello.ko" | grep -q '\.BTF\.base'; then
  note=", with .BTF.base (resolve_btfids --distill_base)"
fi
case "$version" in 7.*) [ -n "$note" ] || fail "7.x builds external modules with .BTF.base; kfarm_hello.ko has none" ;; esac
modfinal -C "$tree" M="$ext" >"$work/ext2.log" 2>&1 || { cat "$work/ext2.log"; fail "kfarm modfinal M=$ext again"; }
grep -q "1 modules, 0 executed on the farm, 1 cache hits" "$work/ext2.log" || { tail -3 "$work/ext2.log"; fail "external module: cache hit"; }
pass "external module M=$ext: kfarm_hello.ko and its .cmd byte-identical to kbuild's$note, .BTF_ids patched [$ids]; again: a cache hit"

# 3. The base kbuild's recipe names: vmlinux.unstripped (7.x with the pending patch).
if [ -n "$ref_unstripped" ]; then
  ref=$ref_unstripped
  (cd "$tree" && to_unstripped)
  modfinal -C "$tree" >"$work/unstripped.log" 2>&1 || { cat "$work/unstripped.log"; fail "modfinal on vmlinux.unstripped"; }
  grep -q "BTF base: the .BTF of $tree/vmlinux.unstripped" "$work/unstripped.log" ||
    { grep "BTF base" "$work/unstripped.log"; fail "the base should be vmlinux.unstripped"; }
  differ=$(differ_from_kbuild "$ref" "$tree")
  [ "$differ" -eq 0 ] || fail "vmlinux.unstripped: $differ files differ from kbuild's"
  n=$(find "$ref" -name "*.ko" | wc -l)
  pass "base vmlinux.unstripped (vmlinux's BTF differs): all $n .ko and .cmd byte-identical to kbuild's"
fi

echo "$checks passed, 0 failed"
