# Shared by the kernel fixture and tests (sourced, with $version set): kbuild's reproducible
# environment and the make arguments that make it reproducible on that version, kbuild's own
# reference modules per fixture, and the byte comparison.

# A fixed timestamp: kbuild then leaves -j out of pahole's flags from 6.12 on (pahole < 1.29
# orders BTF types by thread timing with -j), and vmlinux and modules are reproducible.
ts=KBUILD_BUILD_TIMESTAMP=2026-01-01
export KBUILD_BUILD_TIMESTAMP=2026-01-01 KBUILD_BUILD_USER=kfarm KBUILD_BUILD_HOST=kfarm

# 6.1's pahole-flags.sh passes -j to pahole whatever the timestamp, and pahole < 1.29 then orders
# a multi-object module's BTF by thread timing (ext2.ko, xz_dec.ko differ from run to run): the
# reference and kfarm both run with kbuild's flags less -j. From 6.12 on, KBUILD_BUILD_TIMESTAMP
# (exported by the tests) already leaves -j out.
case "${version:-6.12}" in
  6.1) det_args=("PAHOLE_FLAGS=--btf_gen_floats --lang_exclude=rust") ;;
  *) det_args=() ;;
esac

# kbuild's own modfinal on a copy of FIXTURE at TREE (the path it was built at), once per fixture
# and FLAVOUR (a copy changed by PREPARE, a function run in the copy first); prints the directory
# holding the reference .ko and .M.ko.cmd files.
kbuild_reference() {
  local fixture=$1 tree=$2 flavour=${3:-} prepare=${4:-}
  local ref=$fixture.kbuild-ref${flavour:+-$flavour}
  if [ ! -f "$ref/.complete" ]; then
    echo "building kbuild's reference modules${flavour:+ ($flavour)} (once per fixture)" >&2
    rm -rf "$ref" "$ref.tmp" "$tree"
    cp -a "$fixture" "$tree"
    if [ -n "$prepare" ]; then (cd "$tree" && "$prepare") >&2; fi
    make -s -C "$tree" -j2 modules "${det_args[@]}" >&2
    mkdir -p "$ref.tmp"
    (cd "$tree" && find . -name "*.ko" -o -name ".*.ko.cmd" | cpio -pdm --quiet "$ref.tmp")
    rm -rf "$tree"
    touch "$ref.tmp/.complete"
    mv "$ref.tmp" "$ref"
  fi
  echo "$ref"
}

# How many of REF's files (all .ko and .cmd, or those matching the find expression after it)
# differ from TREE's; names each on stderr.
differ_from_kbuild() {
  local ref=$1 tree=$2 n=0 f
  shift 2
  [ $# -gt 0 ] || set -- -name "*.ko" -o -name ".*.ko.cmd"
  while read -r f; do
    cmp -s "$ref/$f" "$tree/$f" || { echo "differs from kbuild: $f" >&2; n=$((n + 1)); }
  done < <(cd "$ref" && find . \( "$@" \) -type f)
  echo "$n"
}
