#!/usr/bin/env bash
# Draws one `kfarm modfinal --timeline` file: a row per module (in the order its link was sent),
# its link and its BTF step as bars, against the local make and the vmlinux link as bands. It
# shows the pipelining of --follow: links run on the farm while vmlinux links, BTF steps right
# after.
# Usage: bench/plot_timeline.sh TIMELINE.tsv OUT.png TITLE
set -euo pipefail
in=${1:?usage: plot_timeline.sh TIMELINE.tsv OUT.png TITLE}
out=${2:?}
title=${3:-kfarm modfinal}
command -v gnuplot >/dev/null || { echo "plot_timeline.sh: no gnuplot (deploy/setup.sh installs gnuplot-nox)" >&2; exit 1; }
work=$(mktemp -d /tmp/kfarm-plot.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Rows: each module's number, by the start of its link.
awk -F'\t' -v dir="$work" '
  /^#/ { next }
  $1 == "make" || $1 == "vmlinux" { print $3, $4 > (dir "/" $1 ".dat"); next }
  $1 == "link" && !($2 in row) { row[$2] = ++n }
  { r = ($2 in row) ? row[$2] : ++n; row[$2] = r
    print $3, $4, r > (dir "/" $1 ($5 == 1 ? "-cached" : "") ".dat") }
  END { print n > (dir "/rows") }' "$in"
rows=$(cat "$work/rows")
[ "${rows:-0}" -gt 0 ] || { echo "plot_timeline.sh: $in holds no module steps" >&2; exit 1; }
for f in make vmlinux link link-cached btf btf-cached; do [ -e "$work/$f.dat" ] || echo "NaN NaN NaN" >"$work/$f.dat"; done
end=$(awk -F'\t' '!/^#/ && $4 > m { m = $4 } END { print m * 1.02 }' "$in")

gnuplot <<GP
set terminal pngcairo size 1400,820 font "DejaVu Sans,11" noenhanced
set output "$out"
set title "$title: $rows modules, when each step ran (from the client's Execute to its result)"
set xlabel "seconds since kfarm modfinal started"
set ylabel "module (by when its link was sent)"
set xrange [0:$end]
set yrange [0:$rows + 1]
set key outside bottom center horizontal maxrows 2
set grid xtics
set style fill solid 0.35 noborder
plot \
  "$work/make.dat" using (\$1 + (\$2 - \$1) / 2):($rows / 2.0 + 0.5):((\$2 - \$1) / 2):($rows / 2.0 + 0.5) \
      with boxxyerror lc rgb "#cccccc" title "local make (.mod.o compiles, modpost)", \
  "$work/vmlinux.dat" using (\$1 + (\$2 - \$1) / 2):($rows / 2.0 + 0.5):((\$2 - \$1) / 2):($rows / 2.0 + 0.5) \
      with boxxyerror lc rgb "#f2c14e" title "vmlinux link (local)", \
  "$work/link.dat" using 1:3:(\$2 - \$1):(0) with vectors nohead lw 2 lc rgb "#2f6db5" title "module link (ld -r), farm", \
  "$work/link-cached.dat" using 1:3:(\$2 - \$1):(0) with vectors nohead lw 2 lc rgb "#9bbbe0" title "module link, action cache", \
  "$work/btf.dat" using 1:3:(\$2 - \$1):(0) with vectors nohead lw 2 lc rgb "#c0392b" title "module BTF (pahole, resolve_btfids), farm", \
  "$work/btf-cached.dat" using 1:3:(\$2 - \$1):(0) with vectors nohead lw 2 lc rgb "#e6a49c" title "module BTF, action cache"
GP
echo "plot_timeline.sh: wrote $out"
