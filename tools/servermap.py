#!/usr/bin/env python3
"""servermap.py [--nodes N] [--node-gib G] [--seed S]: print the EFI memory map of a large NUMA
server in the Linux efi=debug format that tools/mapfile.c reads (pmmsim MAP).

The default is a 16-socket machine with 768 GiB per socket (12 TiB, about 3.2 G usable pages)
and a few hundred descriptors, the shape such firmware reports (no real map of that size was at
hand; this is generated, not captured):
  - below 4 GiB, the usual PC mix: conventional memory broken up by loader and boot-services
    code and data, runtime code and data, ACPI tables and NVS, reserved ranges, and the 32-bit
    PCI window with the APIC, IOAPIC and flash MMIO at its top;
  - per socket, its RAM as one stretch (socket 0's from 4 GiB), broken up by the firmware's own
    per-socket structures (boot-services data and code, a little runtime data), now and then a
    page marked unusable, and a reserved range at the socket's end;
  - above all RAM, a 64-bit MMIO window per socket.
Each socket is a NUMA node, and the ACPI SRAT's memory ranges are printed as Linux logs them.
Deterministic for a given seed. `make bench PART=pmmsim` (bench/pmmsim.sh) replays it.
"""
import argparse
import random

K, M, G = 1 << 10, 1 << 20, 1 << 30
RT = 0x8000000000000000
PAGE = 4 * K


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=16)
    ap.add_argument("--node-gib", type=int, default=768)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    rows = []  # (type, start, size, attr)

    def add(t, start, size, attr=None):
        if size <= 0:
            return
        if attr is None:
            attr = RT | 0x1 if t == 11 else (RT | 0xF if t in (5, 6) else 0xF)
        rows.append((t, start, size, attr))

    def pages(lo, hi):  # a size in whole pages, lo..hi pages
        return rnd.randint(lo, hi) * PAGE

    # Below 1 MiB: page 0 boot data (trampolines), conventional, EBDA and legacy hole.
    add(4, 0, PAGE)
    add(7, PAGE, 0x9E000 - PAGE)
    add(0, 0x9E000, 0x2000)
    add(0, 0xA0000, 0x60000)
    # 1 MiB to 2 GiB: conventional broken up by what firmware and loader left there.
    at, low_top = 1 * M, 2 * G - 256 * M
    kinds = [1, 2, 3, 4, 4, 4, 3, 2, 5, 6, 9, 10, 0, 4, 3]
    while at < low_top - 192 * M and len(rows) < 56:  # a run and a range fit below low_top
        run = pages(256, 32768)
        add(7, at, run)
        at += run
        t = rnd.choice(kinds)
        size = pages(1, 2048) if t not in (9, 10) else pages(8, 64)
        add(t, at, size)
        at += size
    add(7, at, low_top - at)
    add(0, low_top, 256 * M)  # firmware's reserved area below the PCI window
    add(11, 2 * G, 0xFE000000 - 2 * G)  # 32-bit PCI window
    add(11, 0xFEC00000, 0x1000)  # IOAPIC
    add(11, 0xFEE00000, 0x1000)  # local APIC
    add(11, 0xFF000000, 16 * M)  # flash

    node = a.node_gib * G
    for n in range(a.nodes):
        base = 4 * G if n == 0 else n * node + 2 * G
        end = (n + 1) * node + 2 * G
        reserved = rnd.choice([64, 128, 256]) * M  # per-socket firmware/RAS area at the end
        top = end - reserved
        # the firmware's per-socket structures, at a few places in the socket's RAM
        cuts = sorted(rnd.sample(range(1, 1000), rnd.randint(5, 9)))
        at = base
        for c in cuts:
            pos = base + (top - base) * c // 1000 // (2 * M) * (2 * M)
            if pos <= at:
                continue
            add(7, at, pos - at)
            t = rnd.choice([4, 4, 4, 3, 6, 8])
            size = PAGE if t == 8 else pages(16, 16384)
            add(t, pos, size)
            at = pos + size
        add(7, at, top - at)
        add(0, top, reserved)

    mmio = a.nodes * node + 2 * G
    mmio = (mmio + 64 * G - 1) // (64 * G) * (64 * G)
    for n in range(a.nodes):
        add(11, mmio + n * 64 * G, 64 * G)

    for i, (t, start, size, attr) in enumerate(rows):
        print(f"efi: mem{i:03d}: type={t}, attr=0x{attr:x}, "
              f"range=[0x{start:016x}-0x{start + size:016x}) ({size >> 20}MB)")
    # The SRAT as Linux reports it: socket 0 from 0 (the low 4 GiB with it), each socket's RAM.
    for n in range(a.nodes):
        lo = 0 if n == 0 else n * node + 2 * G
        hi = (n + 1) * node + 2 * G
        print(f"ACPI: SRAT: Node {n} PXM {n} [mem 0x{lo:08x}-0x{hi - 1:08x}]")


if __name__ == "__main__":
    main()
