#!/usr/bin/env python3
"""Deletes the kernel sources a built fixture never reads, so that the cached tree and the copies
the tests make of it are about half the size (most of drivers/, sound/, net/ and the other
architectures are never compiled under tinyconfig + the fragment).

Usage: prune_fixture.py TREE SOURCE_LIST
SOURCE_LIST names the files the tarball unpacked (one relative path a line): only those can go,
never anything the build wrote. A source file is kept when any of these holds:
  - kbuild or Kconfig may read it without it being a recorded dependency: Kconfig*, Makefile*,
    Kbuild*, and everything under the directories kept whole below;
  - its directory holds something kbuild built (a .cmd file): the directory's Makefile may name
    any file there as a prerequisite (tables, scripts, generated-header inputs);
  - a .cmd file lists it as a source or a dependency (headers included across directories).
The kernel tests then prove the pruning safe on every fixture: kbuild's own final stage on the
pruned tree is the reference, and a plain `make modules` afterwards must do nothing.
"""
import os
import re
import sys

KEPT_WHOLE = ("scripts/", "include/", "tools/", "usr/", "certs/", "arch/x86/", "rust/")
ALWAYS = re.compile(r"^(Kconfig.*|Makefile.*|Kbuild.*)$")
DEP_LINE = re.compile(r"^\s+(\S+) \\$")
SOURCE_LINE = re.compile(r"^source_\S+ := (\S+)$")


def read_cmd_files(tree):
    built_dirs, deps = set(), set()
    for root, _, files in os.walk(tree):
        rel_root = os.path.relpath(root, tree)
        for name in files:
            if not name.endswith(".cmd"):
                continue
            built_dirs.add(rel_root)
            with open(os.path.join(root, name), errors="replace") as f:
                for line in f:
                    m = DEP_LINE.match(line) or SOURCE_LINE.match(line)
                    if m and "$" not in m.group(1):
                        path = m.group(1)
                        if os.path.isabs(path):
                            path = os.path.relpath(path, tree)
                        deps.add(os.path.normpath(path))
    return built_dirs, deps


def main():
    tree, source_list = sys.argv[1], sys.argv[2]
    built_dirs, deps = read_cmd_files(tree)
    removed = removed_bytes = 0
    emptied = set()
    with open(source_list) as f:
        sources = [os.path.normpath(line.rstrip("\n")) for line in f if line.strip()]
    for path in sources:
        if path.startswith(KEPT_WHOLE) or "/" not in path:
            continue
        directory, name = os.path.split(path)
        if ALWAYS.match(name) or directory in built_dirs or path in deps:
            continue
        full = os.path.join(tree, path)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            continue
        os.unlink(full)
        emptied.add(directory)
        removed += 1
        removed_bytes += st.st_size
    # Directories this emptied go too, deepest first; none of them held anything kbuild reads.
    for directory in sorted(emptied, key=len, reverse=True):
        while directory and os.path.isdir(os.path.join(tree, directory)) \
                and not os.listdir(os.path.join(tree, directory)):
            os.rmdir(os.path.join(tree, directory))
            directory = os.path.dirname(directory)
    print(f"kernel fixture: pruned {removed} source files ({removed_bytes >> 20} MiB) that the "
          f"build never reads", file=sys.stderr)


if __name__ == "__main__":
    main()
