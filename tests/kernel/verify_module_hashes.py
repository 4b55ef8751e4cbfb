#!/usr/bin/env python3
"""Independent check of kfarm's module-hashes output (series v5 format): recomputes every leaf
from the .ko files in modules.order order and walks each M.merkle proof up to the root blob."""
import hashlib
import struct
import sys

tree = sys.argv[1]
mods = [l.strip()[:-2] + ".ko" if l.strip().endswith(".o") else l.strip()
        for l in open(f"{tree}/modules.order") if l.strip()]
root_blob = open(f"{tree}/modules.hashes.root", "rb").read()
levels, root = struct.unpack("<I", root_blob[:4])[0], root_blob[4:]
marker = b"~Module signature appended~\n"
for i, ko in enumerate(mods):
    proof = open(f"{tree}/{ko[:-3]}.merkle", "rb").read()
    assert proof.endswith(marker), ko
    sig = proof[-len(marker) - 12:-len(marker)]
    assert sig[2] == 3 and struct.unpack(">I", sig[8:])[0] == 4 + 32 * levels, ko
    body = proof[:-len(marker) - 12]
    assert struct.unpack(">I", body[:4])[0] == i, ko
    node = hashlib.sha256(b"\x01" + struct.pack(">I", i) + open(f"{tree}/{ko}", "rb").read()).digest()
    pos = i
    for off in range(4, len(body), 32):
        sib = body[off:off + 32]
        node = hashlib.sha256(b"\x02" + (node + sib if pos % 2 == 0 else sib + node)).digest()
        pos //= 2
    if node != root:
        print(f"proof of {ko} does not lead to the root", file=sys.stderr)
        sys.exit(1)
print(f"{len(mods)} proofs verify against root {root.hex()} ({levels} levels)")
