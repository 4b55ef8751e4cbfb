#!/usr/bin/env python3
"""The benchmark summary: every row kfarm's figure against a baseline measured in the same run.

Reads the samples bench/run_all.sh gathered, one "KEY v1 v2 ..." line per measure (a value per
repeat; the benchmarks print theirs as "raw KEY ..."), and prints the markdown table: both
figures as median (min-max), their ratio run by run, the target as a ratio, and a verdict. A row
is met only if its whole spread is on the right side of the target: a spread wider than the
margin counts as not met.
Usage: summarize.py SAMPLES KERNELS  (KERNELS: the modfinal versions measured, e.g. "6.12 7.2")
"""
import statistics
import sys


def load(path):
    samples = {}
    for line in open(path):
        parts = line.split()
        if len(parts) >= 2:
            samples.setdefault(parts[0], []).extend(float(v) for v in parts[1:])
    return samples


def spread(values, fmt):
    med = statistics.median(values)
    if len(values) == 1:
        return fmt % med
    return (fmt + " (" + fmt + "–" + fmt + ")") % (med, min(values), max(values))


def ratios(ours, base):
    """Run by run when both have a value per repeat; else each of ours against base's median."""
    if len(ours) == len(base):
        return [a / b for a, b in zip(ours, base)]
    ref = statistics.median(base)
    return [a / ref for a in ours]


def verdict(values, op, target):
    if op is None:
        return "context"
    lo, hi, med = min(values), max(values), statistics.median(values)
    if op == "<=":
        return "met" if hi <= target else "not met" if med > target else "not met (spread)"
    return "met" if lo >= target else "not met" if med < target else "not met (spread)"


class Table:
    def __init__(self, samples):
        self.samples = samples
        self.rows = []
        self.missing = []

    def row(self, section, measure, ours, base, base_label, unit, fmt="%.2f", op=None,
            target=None, ratio_key=None):
        s = self.samples
        if ours not in s or (base is not None and base not in s):
            self.missing.append(measure)
            return
        values = s[ratio_key] if ratio_key else ratios(s[ours], s[base]) if base else None
        ours_text = spread(s[ours], fmt) + unit
        base_text = (base_label + " " + spread(s[base], fmt) + unit) if base else base_label
        ratio_text = spread(values, "%.2f") + "×" if values else "—"
        target_text = "—" if op is None else "%s %.2f×" % ("≤" if op == "<=" else "≥", target)
        self.rows.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            section, measure, ours_text, base_text, ratio_text, target_text,
            verdict(values, op, target) if values else "context"))


def main():
    samples = load(sys.argv[1])
    kernels = sys.argv[2].split()
    t = Table(samples)
    for v in kernels:
        k = "mf_%s_" % v
        t.row(1, "linux %s modfinal, cold (2 workers)" % v, k + "cold", k + "kbuild",
              "kbuild -j2", " s", "%.1f", "<=", 1.0)
        t.row(1, "linux %s, warm (all AC hits; make's walk skipped, nothing it reads changed)" % v,
              k + "warm", k + "kbuild", "kbuild -j2", " s", "%.2f", "<=", 0.15)
        t.row(1, "linux %s, warm with `--always_walk` (make walks the tree)" % v, k + "warm_walk",
              k + "kbuild", "kbuild -j2", " s", "%.2f")
        t.row(1, "linux %s, `--objects_current` cold" % v, k + "current_cold", k + "kbuild",
              "kbuild -j2", " s", "%.1f", "<=", 1.0)
        t.row(1, "linux %s, `--objects_current` warm" % v, k + "current_warm", k + "kbuild",
              "kbuild -j2", " s", "%.2f", "<=", 0.15)
        t.row(1, "linux %s, make's walk of the tree alone (warm `--always_walk` minus warm "
              "`--objects_current`)" % v, k + "walk", k + "kbuild", "kbuild -j2", " s", "%.2f")
        t.row(1, "linux %s, `--objects_current` vs kbuild's modfinal makefile alone" % v,
              k + "current_cold", k + "kbuild_final", "modfinal makefile", " s", "%.1f")
        t.row(1, "linux %s from an unlinked vmlinux, `--follow`" % v, k + "follow",
              k + "kbuild_link", "kbuild -j2", " s", "%.1f", "<=", 1.0)
        t.row(1, "linux %s from an unlinked vmlinux, make vmlinux then kfarm" % v, k + "sequential",
              k + "kbuild_link", "kbuild -j2", " s", "%.1f")
    t.row(2, "Execute → COMPLETED, trivial action in bubblewrap, median", "exec_median_ms",
          "exec_bwrap_ms", "bare bubblewrap", " ms", "%.2f", "<=", 1.0)
    t.row(2, "Execute, median, against a bare posix_spawn", "exec_median_ms", "exec_spawn_ms",
          "bare posix_spawn", " ms", "%.2f")
    t.row(2, "Execute, p99", "exec_p99_ms", "exec_bwrap_ms", "bare bubblewrap median", " ms")
    t.row(3, "dispatch rate, 256 fake workers x 4 slots", "dispatch_kfarm_rate",
          "dispatch_bare_rate", "bare gRPC loop", "/s", "%.0f", ">=", 0.69)
    t.row(3, "dispatch, server CPU per assignment", "dispatch_kfarm_cpu_us",
          "dispatch_bare_cpu_us", "bare gRPC loop", " µs", "%.1f")
    t.row(3, "dispatch, kfarm's queue alone (no gRPC), CPU per assignment",
          "dispatch_queue_cpu_us", "dispatch_bare_cpu_us", "bare gRPC loop", " µs", "%.1f")
    t.row(4, "2000 × sleep 50 ms on 64 worker processes, wall", "scale_farm_s", "scale_pool_s",
          "local pool, 64 at a time", " s", "%.2f", "<=", 1.10)
    t.row(5, "scheduler CPU per replicated real module (4000)", "distro_cpu_us_per_module",
          "scale_trivial_cpu_us", "per trivial action", " µs", "%.0f")
    t.row("—", "ByteStream read 256 MiB, verified", "bytestream_read_gbps",
          "bytestream_bare_read_gbps", "bare gRPC stream", " GB/s", "%.2f", ">=", 0.90,
          ratio_key="bytestream_read_vs_bare")
    print("| # | measure | kfarm | baseline, same run | ratio | target | verdict |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in t.rows:
        print(r)
    if t.missing:
        print("\nNot measured in this run: " + "; ".join(t.missing) + ".")


if __name__ == "__main__":
    main()
