#!/usr/bin/env python3
"""Expected page counts for a published memory map, computed without the project's C code.

Reads the text with its own patterns, classifies each descriptor by the UEFI spec's rules (free
now: conventional; free after exit: loader and boot-services code/data; everything else, and
anything with the RUNTIME or SP attribute, never) and resolves overlaps by restrictiveness with
plain interval arithmetic. Prints: total conv boot span low (usable pages below 1 MiB), whether page 0 is
usable, usable pages below 4 GiB, and meta: the metadata pages the layout documented in pmm/state.h needs for this span and
descriptor count (the host simulator builds with room for EXTRA more descriptors).
"""
import re
import sys

NAMES = {
    "reserved": 0, "loader code": 1, "loader data": 2, "boot code": 3, "boot data": 4,
    "runtime code": 5, "runtime data": 6, "conventional memory": 7, "unusable memory": 8,
    "acpi reclaim memory": 9, "acpi memory nvs": 10, "memory mapped i/o": 11,
    "mmio port space": 12, "pal code": 13, "persistent memory": 14,
    "loadercode": 1, "loaderdata": 2, "bs_code": 3, "bs_data": 4, "rt_code": 5, "rt_data": 6,
    "available": 7, "acpi_recl": 9, "acpi_nvs": 10, "memmapio": 11, "memportio": 12,
}
RUNTIME, SP = 1 << 63, 1 << 18


def descriptors(text):
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        m = re.search(r"type=(\d+), attr=0x([0-9a-fA-F]+), range=\[0x([0-9a-fA-F]+)-0x([0-9a-fA-F]+)([\])])", line)
        if m:
            end = int(m.group(4), 16) + (1 if m.group(5) == "]" else 0)
            yield int(m.group(1)), int(m.group(2), 16), int(m.group(3), 16), end
            continue
        m = re.search(r"\[([A-Za-z /]+?)\s*\|([^\]]*)\] range=\[0x([0-9a-fA-F]+)-0x([0-9a-fA-F]+)([\])])", line)
        if m:
            cols = [c.strip() for c in m.group(2).split("|")]
            attr = RUNTIME if "RUN" in cols else 0
            attr |= SP if "SP" in cols else 0
            for c in cols:
                if c.startswith("attr=0x"):
                    attr |= int(c[7:], 16)
            end = int(m.group(4), 16) + (1 if m.group(5) == "]" else 0)
            yield NAMES[m.group(1).strip().lower()], attr, int(m.group(3), 16), end
            continue
        m = re.match(r"\s*(\S+)\s+([0-9A-Fa-f]{16})-([0-9A-Fa-f]{16})\s+([0-9A-Fa-f]+)\s+([0-9A-Fa-f]+)", line)
        if m and m.group(1).lower() in NAMES:
            yield NAMES[m.group(1).lower()], int(m.group(5), 16), int(m.group(2), 16), int(m.group(3), 16) + 1


EXTRA = 64  # tests/host/sim.c: sim_build's extra_descriptors


def meta_pages(span, nslots, ndesc, extra=EXTRA, cpus=0):
    """Pages of the metadata run, from pmm/state.h's drawing, with one NUMA node (no table: one
    node run): the header page; then, each piece 64-byte aligned, the range table (2 * (ndesc +
    extra) + 1 entries of 24 bytes), the section table (4 bytes per 128 MiB section of the span),
    the slots (4 bytes per present section), the node runs (one of 24 bytes), the distances and the
    nearest-first order (1 x 1 byte each), the per-CPU caches (512 bytes each) and their nodes (2
    bytes each); per 2 MiB block of the present sections a 16-bit count, a state byte and a node
    byte; the two summaries over blocks (`avail` and `whole`: one bit per block, and levels of one
    bit per word below, up to one word); the marks and the own cache's groups (one bit per 64
    pages each); then, each page
    aligned, the free words and the own words (one bit per page each) and the 16-bit reference
    counts per page."""
    r64 = lambda x: (x + 63) & ~63
    rpg = lambda x: -(-x // 4096) * 4096
    cspan, nsec = nslots << 15, -(-span // (1 << 15))
    nblocks = cspan >> 9
    at = r64(4096 + (2 * (ndesc + extra) + 1) * 24)  # header page, range table
    at = r64(at + nsec * 4)  # section table
    at = r64(at + nslots * 4)  # slots
    at = r64(at + 24)  # one node run
    at = r64(at + 1)  # distances
    at = r64(at + 1)  # nearest-first order
    at = r64(at + cpus * 512)  # caches
    at = r64(at + cpus * 2)  # their nodes
    at = r64(at + nblocks * 2)  # counts
    at = r64(at + nblocks)  # block states
    at = r64(at + nblocks)  # block nodes
    for _ in range(2):  # avail and whole
        words = max(1, -(-nblocks // 64))
        while True:
            at = r64(at + words * 8)
            if words == 1:
                break
            words = -(-words // 64)
    at = r64(at + -(-(cspan // 64) // 64) * 8)  # marks
    at = r64(at + -(-(cspan // 64) // 64) * 8)  # the allocator's own cache's groups
    at = rpg(rpg(at) + cspan // 8)  # free words
    at = rpg(at + cspan // 8)  # own words
    at = rpg(at + cspan * 2)  # reference counts
    return at // 4096


def kind(t, attr):
    if attr & (RUNTIME | SP):
        return 2
    if t == 7:
        return 0
    if t in (1, 2, 3, 4):
        return 1
    return 2


def main(path):
    spans = {0: [], 1: [], 2: []}
    ndesc = 0
    for t, attr, start, end in descriptors(open(path).read()):
        ndesc += 1
        k = kind(t, attr)
        if k == 2:
            spans[2].append((start // 4096, -(-end // 4096)))
        else:
            spans[k].append((-(-start // 4096), end // 4096))

    def minus(a, b):
        """Intervals of a with every interval of b removed."""
        out = []
        for s, e in a:
            pieces = [(s, e)]
            for bs, be in b:
                nxt = []
                for ps, pe in pieces:
                    if be <= ps or bs >= pe:
                        nxt.append((ps, pe))
                        continue
                    if ps < bs:
                        nxt.append((ps, bs))
                    if be < pe:
                        nxt.append((be, pe))
                pieces = nxt
            out += pieces
        return out

    boot = minus(spans[1], spans[2])
    conv = minus(minus(spans[0], spans[2]), spans[1])
    count = lambda iv: sum(e - s for s, e in iv)
    low = sum(max(0, min(e, 256) - s) for s, e in conv + boot)
    below4g = sum(max(0, min(e, 1 << 20) - s) for s, e in conv + boot)
    span = max(e for s, e in conv + boot)
    sections = {k for s, e in conv + boot if e > s for k in range(s >> 15, ((e - 1) >> 15) + 1)}
    inside = lambda iv: any(s <= 0 < e for s, e in iv)
    page0 = "conv" if inside(conv) else "boot" if inside(boot) else "none"
    print(f"total={count(conv) + count(boot)} conv={count(conv)} boot={count(boot)} span={span} "
          f"low={low} page0_conv={int(page0 == 'conv')} page0_usable={int(page0 != 'none')} "
          f"meta={meta_pages(span, len(sections), ndesc)} sections={len(sections)}/{-(-span // (1 << 15))} ndesc={ndesc} below4g={below4g}")


if __name__ == "__main__":
    main(sys.argv[1])
