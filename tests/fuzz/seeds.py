#!/usr/bin/env python3
"""seeds.py - write the seed corpora of the fuzz targets into tests/fuzz/corpus/NAME/.

Run from the repository root: python3 tests/fuzz/seeds.py. The seeds are committed; this script
is how they were made (small EFI maps drawn by hand, real PCs' maps from tests/memmaps, the test
kernel's ELF shape, handoff blocks). Each file's layout is the one its target's comment describes.
"""
import glob
import os
import re
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CORPUS = os.path.join(ROOT, "tests", "fuzz", "corpus")
MIB = 1 << 20
PG = 4096
RUNTIME = 1 << 63
SP = 1 << 18

CONV, LCODE, LDATA, BCODE, BDATA, RCODE, RDATA = 7, 1, 2, 3, 4, 5, 6
RESERVED, ACPI, NVS, MMIO = 0, 9, 10, 11


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def desc(t, start, pages, attr=0xF, size=48):
    """One EFI descriptor, padded with junk to size bytes (the padding must be ignored)."""
    d = struct.pack("<IIQQQQ", t, 0, start, 0, pages, attr)
    return (d + b"\xa5" * size)[:size] if size >= 40 else d[:size]


def emap(descs, size=48):
    return b"".join(desc(*d, size=size) if len(d) > 3 else desc(*d, size=size) for d in descs)


# A small PC: low memory with the EBDA hole, RAM with boot-services and ACPI pieces, MMIO above.
SMALL_PC = [
    (CONV, 0, 0x9F),
    (RESERVED, 0x9F000, 0x61),
    (CONV, MIB, 0x700),
    (BDATA, 8 * MIB, 0x200),
    (ACPI, 10 * MIB, 0x40),
    (CONV, 10 * MIB + 0x40 * PG, 0x5C0),
    (RDATA, 16 * MIB - 0x20 * PG, 0x20, 0xF | RUNTIME),
    (MMIO, 0xFEC00000, 1, RUNTIME | 1),
]


def map_seeds():
    def seed(name, descs, size=48, flags=0, extra=8, raw=None):
        body = raw if raw is not None else emap(descs, size)
        write("map", name, bytes([size & 0xFF, (extra << 1 | flags) & 0xFF]) + body)

    seed("small-pc-48", SMALL_PC)
    seed("small-pc-40", SMALL_PC, size=40)
    seed("small-pc-odd-57", SMALL_PC, size=57)
    seed("unsorted-overlapping", list(reversed(SMALL_PC)) + [(BCODE, 2 * MIB, 0x100), (RESERVED, 3 * MIB, 4)])
    seed("unaligned-and-zero-length", [
        (CONV, 0x1000, 0x7FF),
        (CONV, MIB + 0x123, 0x100),
        (RESERVED, 2 * MIB + 0x800, 2),
        (RESERVED, 3 * MIB, 0),
        (BDATA, 4 * MIB + 0x10, 0x80),
        (CONV, 5 * MIB, 0x300),
    ])
    seed("attributes-and-oem-types", [
        (CONV, 0, 0x1000),
        (CONV, 2 * MIB, 0x40, 0xF | SP),
        (CONV, 3 * MIB, 0x40, 0xF | RUNTIME),
        (0x70000001, 4 * MIB, 0x10),
        (0x80000000, 5 * MIB, 0x10),
        (15, 6 * MIB, 0x10),
        (0xFFFFFFFF, 7 * MIB, 1, 0x0700000000000000),
    ])
    seed("no-conventional", [(BDATA, MIB, 0x100), (RESERVED, 0, 0x100)])
    seed("tiny-conventional", [(CONV, MIB, 1), (LDATA, 2 * MIB, 0x100)])
    seed("wraps", [(CONV, MIB, 0x100), (RESERVED, 0xFFFFFFFFFFFFF000, 2)])
    seed("ends-at-2^64", [(CONV, MIB, 0x100), (RESERVED, 0xFFFFFFFFFFFFF000, 1)])
    seed("desc-size-39", SMALL_PC[:3], size=39)
    seed("not-a-multiple", SMALL_PC[:3], flags=1, raw=emap(SMALL_PC[:3]) + b"\0" * 7)
    seed("empty", [], raw=b"")
    seed("one-page-everything", [(t, MIB + t * PG, 1) for t in range(16)] + [(CONV, 2 * MIB, 0x400)])
    # Real PCs' maps: intake only (their RAM is far larger than the simulated machine).
    for i, (name, descs) in enumerate(real_maps()):
        seed("real-" + name, descs[:80], size=40)


LINE = re.compile(r"type=(\d+), attr=(0x[0-9a-fA-F]+), range=\[(0x[0-9a-fA-F]+)-(0x[0-9a-fA-F]+)([\]\)])")


def real_maps():
    """(name, descriptors) for the maps in tests/memmaps in the numeric Linux format."""
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "memmaps", "*.txt"))):
        descs = []
        for line in open(path, errors="replace"):
            m = LINE.search(line)
            if not m:
                continue
            t, attr, a, b = int(m[1]), int(m[2], 16), int(m[3], 16), int(m[4], 16)
            if m[5] == "]":
                b += 1
            descs.append((t, a, (b - a) // PG, attr))
        if descs:
            out.append((os.path.basename(path)[:-4], descs))
    return out


def ops_seeds():
    """fuzz_ops: flags, extra descriptors (type, where, len), then opcode + arguments."""
    import random

    def seed(name, flags, extras, ops):
        body = bytes([flags, len(extras)])
        for t, where, n in extras:
            body += struct.pack("<BHH", t, where, n)
        write("ops", name, body + ops)

    A, RUN, FREE, FREERUN, INC, INCS, DEC, CNT, REC, DRAIN, REL = 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
    run = lambda n, a, lim: bytes([RUN]) + struct.pack("<HBB", n, a, lim)
    pick = lambda i: bytes([0, i & 0xFF, i >> 8])  # an allocated page, by index
    ops = bytes([A] * 8) + run(16, 4, 0) + run(0x8000 | 512, 9, 0) + run(3, 0, 1) + run(2, 8, 2)
    ops += bytes([INC]) + pick(1) + bytes([CNT]) + pick(1) + bytes([FREE]) + pick(1)
    ops += bytes([DEC]) + pick(1) + bytes([DEC]) + pick(1) + bytes([FREERUN]) + pick(9) + bytes([4])
    ops += bytes([FREE, 200, 0x10, 0]) + bytes([FREE, 230, 0x10, 0]) + bytes([INCS]) + pick(3) + bytes([255])
    ops += bytes([REL, REC, REC, REL]) + bytes([A] * 4) + run(1, 13, 7) + struct.pack("<Q", 0x100000000)
    seed("walkthrough", 0, [], ops)
    holes = bytes([DRAIN, FREE, 224, 0x00, 0x02, FREERUN, 224, 0x02, 0x02, 16]) + run(16, 0, 0)
    seed("drain-and-holes", 0, [], holes + bytes([INCS]) + pick(0) + bytes([250, 0xFF, 0x02]))
    seed("two-zones-hold", 0xB, [(BDATA, 0x200, 0x100), (RESERVED, 0x8100, 0x20), (ACPI, 0x300, 0x8010)], ops)
    seed("boot-data-everywhere", 0, [(BDATA, 0x100, 0x3FF), (LDATA, 0x600, 0x200)], ops)
    # with two per-CPU caches (flags bit 2): after reconcile, singles on both CPUs, a CPU's free of
    # the other's page, drains, concurrent mode and back, runs that need a cache's pages
    MODE, CALLOC, CFREE = 12 | 0x80, 13, 15
    cpu = bytes([REC]) + bytes([CALLOC, 0] * 40 + [CALLOC, 1] * 40) + bytes([CFREE, 1]) + pick(3)
    cpu += bytes([CFREE, 0]) + pick(50) + bytes([CFREE, 2]) + pick(4) + bytes([12, 1, 12, 3])
    cpu += bytes([MODE]) + bytes([A] * 6) + bytes([CALLOC, 1, DRAIN]) + run(64, 0, 0) + bytes([MODE])
    cpu += bytes([A] * 4) + bytes([FREE]) + pick(2) + bytes([DRAIN]) + run(8, 0, 0) + bytes([12, 2])
    seed("caches", 4, [], cpu)
    seed("caches-two-zones", 0xD, [(BDATA, 0x200, 0x100)], ops[:40] + cpu)
    rnd = random.Random(11)
    for k in range(6):
        body = b""
        for _ in range(120):  # fuzz_ops runs 128 operations at most
            op = rnd.randrange(12)
            body += bytes([op]) + bytes(rnd.randrange(256) for _ in range(rnd.choice([0, 3, 4, 6])))
        seed("random-%d" % k, k & 3 | (k & 1) << 3, [(rnd.randrange(16), rnd.randrange(65536), rnd.randrange(65536))
                                       for _ in range(k % 4)], body)


def reconcile_seeds():
    """fuzz_reconcile: flags, extras, allocations, final-map mutations."""
    import random

    def seed(name, flags, extras, allocs, muts):
        body = bytes([flags, len(extras)])
        for t, start, n in extras:
            body += struct.pack("<BHH", t, start, n)
        body += bytes([len(allocs)]) + bytes(allocs) + bytes([len(muts)]) + b"".join(muts)
        write("reconcile", name, body)

    allocs = [0, 1, 2, 130, 135, 7, 6, 200, 255, 64]
    seed("unchanged", 0, [], allocs, [])
    seed("unchanged-hold", 1, [(BDATA, 0x300, 0x80)], allocs, [])
    seed("retype-to-reserved", 0, [], allocs, [bytes([0, 2, RESERVED])])
    seed("add-reserved-over-ram", 0, [], allocs, [bytes([3, 0, MMIO]) + struct.pack("<HH", 0xF00, 0x40)])
    seed("delete-one", 1, [(LCODE, 0x200, 0x10)], allocs, [bytes([4, 1])])
    seed("wrap", 0, [], allocs, [bytes([2, 1, 1]) + struct.pack("<Q", 1 << 60)])
    seed("cut-short", 0, [], allocs, [bytes([6, 0, 5])])
    seed("runtime-bit", 0, [(BCODE, 0x400, 0x40)], allocs, [bytes([5, 3])])
    seed("move-unaligned", 0, [], allocs, [bytes([1, 2]) + struct.pack("<hB", 0x123, 1)])
    rnd = random.Random(5)
    for k in range(4):
        muts = [bytes([rnd.randrange(7)]) + bytes(rnd.randrange(256) for _ in range(6)) for _ in range(rnd.randrange(1, 8))]
        seed("random-%d" % k, k & 1, [(rnd.randrange(16), rnd.randrange(4096), rnd.randrange(512))],
             [rnd.randrange(256) for _ in range(rnd.randrange(32))], muts)


def adopt_seeds():
    """fuzz_adopt: allocations, the caches byte, mutations (offset, mode, value), operations."""
    import random

    def seed(name, allocs, muts, ops=b"", after=0x40):
        body = bytes([len(allocs)]) + bytes(allocs) + bytes([after, len(muts)])
        for at, mode, val in muts:
            body += struct.pack("<HB", at, mode) + val
        write("adopt", name, body + ops)

    allocs = [1, 2, 3, 170, 200, 5]
    ops = bytes(random.Random(3).randrange(256) for _ in range(120))
    seed("untouched", allocs, [], ops)
    seed("caches-not-drained", allocs, [], ops, after=0x03)
    seed("caches-drained", allocs, [], ops, after=0x73)
    # offsets into struct pmm (pmm/state.h, x86_64): span 40, nslots 56, nblocks 72, sec_phys 80,
    # nranges 104, runs_cap 136, cache_phys 160, count_phys 176, avail 200 (nwords 264, nbits
    # 328, nlevels 336), whole 344, marks_phys 488, refs_phys 512, ncpus 520, c_low 528, c_cache
    # 552, owned 656, total 664, cursor 688, clearing 704, home 832 (its cursor 840)
    for at in (0, 8, 16, 32, 40, 56, 72, 80, 104, 136, 160, 176, 200, 264, 328, 336, 344, 488, 512,
               520, 528, 552, 656, 664, 688, 704, 832, 840):
        seed("set-%d" % at, allocs, [(at, 2, bytes([at % 24]))], ops)
        seed("nudge-%d" % at, allocs, [(at, 1, bytes([0xFF]))], ops)
    # the tables adopt reads, after the header page (0x80 in the mode byte), where the layout puts
    # them for this machine (5 descriptors, room for 64 more, one section, 2 CPUs): the range
    # table at 4096, the section table at 7488, slots 7552, node runs 7616, order 7744, the caches
    # 7808 and 8320 (count, then cursor), their nodes 8832
    for at in (4096, 7488, 7552, 7616, 7624, 7632, 7744, 7808, 7816, 8320, 8328, 8832):
        seed("table-byte-%d" % at, allocs, [(at, 0x80, bytes([0x5A]))], ops)
    # the whole geometry rewritten consistently: span near 2^52 pages (issue 21, defect 2), with
    # every section present or one; past 2^47; the real sections with the run past span
    for g, name in ((1, "geometry-2p52"), (0x41, "geometry-2p52-one-slot"), (7, "geometry-2p47"),
                    (0, "geometry-run-past-span"), (2, "geometry-more-slots")):
        seed(name, allocs, [(0, 4, bytes([g]))], ops)


def mapfile_seeds():
    """fuzz_mapfile: name-length byte, then text: real PCs' maps and one line of each format."""
    for path in sorted(glob.glob(os.path.join(ROOT, "tests", "memmaps", "*.txt"))):
        text = open(path, "rb").read()
        if len(text) > 6000:  # whole lines, a few KiB: libFuzzer's inputs stay small
            text = text[: text.rindex(b"\n", 0, 6000) + 1]
        write("mapfile", "real-" + os.path.basename(path)[:-4], b"\x02" + text)
    lines = {
        "linux-numeric": "[    0.000000] efi: mem00: type=7, attr=0xf, range=[0x0000000000000000-0x000000000009f000) (0MB)\n"
                         "[    0.000000] efi: mem01: type=2, attr=0x8000000000000001, range=[0x100000-0x200000) (1MB)\n",
        "linux-2.6": "mem00: type=7, attr=0xf, range=[0x0-0xa0000) (0MB)\nmem01: type=4, attr=0xf, range=[0x100000-0x180000)\n",
        "linux-named": "efi: mem01: [Conventional|   |  |  |  |  |  |  |  |  |   |WB|WT|WC|UC] range=[0x1000-0x9ffff] (0MB)\n"
                       "EFI: mem02: [Runtime Data|RUN|  |  |  |  |  |  |  |  |   |WB|WT|WC|UC] range=[0xfee00000-0xfee00fff] (0MB)\n"
                       "efi: mem03: [Reserved    |   |  |  |  |  |  |  |  |attr=0x0700000000000000|UC] range=[0x200000-0x2fffff] (1MB)\n",
        "uefi-shell": "Type       Start            End              # Pages          Attributes\n"
                      "available  0000000000000000-000000000009FFFF 00000000000000A0 000000000000000F\n"
                      "BS_data    0000000000100000-00000000001FFFFF 0000000000000100 000000000000000F\n"
                      "RT_code    00000000FFE00000-00000000FFFFFFFF 0000000000000200 800000000000000F\n",
        "bad-line": "efi: mem00: type=7, attr=0xf, range=[0x1000-0x800)\n",
        "pmm-save-crlf": "efi: mem00: type=7, attr=0xF, range=[0x0-0x9F000)\r\nefi: mem01: type=0, attr=0x0, range=[0x9F000-0x100000)\r\n",
    }
    for name, text in lines.items():
        write("mapfile", name, b"\x02" + text.encode())
    write("mapfile", "long-name", b"\xff" + lines["bad-line"].encode())


def elf(segments, entry, phentsize=56, machine=62, etype=2, extra=b""):
    """A small ELF64 executable: (type, flags, offset, vaddr, filesz, memsz) per program header."""
    phoff = 64
    data_off = phoff + phentsize * len(segments)
    hdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    hdr += struct.pack("<HHIQQQIHHHHHH", etype, machine, 1, entry, phoff, 0, 0, 64, phentsize,
                       len(segments), 64, 0, 0)
    ph = b""
    for t, fl, off, va, fs, ms in segments:
        ph += struct.pack("<IIQQQQQQ", t, fl, data_off + off, va, va, fs, ms, 4096).ljust(phentsize, b"\0")
    body = bytes((i * 7) & 0xFF for i in range(max([o + fs for _, _, o, _, fs, _ in segments] + [0])))
    return hdr + ph + body + extra


def elf_seeds():
    K = 0xFFFFFFFF80000000
    write("elf", "text-data-bss", elf([(1, 5, 0, K, 0x300, 0x300), (1, 6, 0x300, K + 0x1000, 0x80, 0x2000)], K))
    write("elf", "one-segment", elf([(1, 7, 0, 0x200000, 0x40, 0x40)], 0x200010))
    write("elf", "with-note-and-stack", elf([(4, 4, 0, 0, 0x20, 0x20), (1, 5, 0, 0x400000, 0x100, 0x100),
                                             (0x6474E551, 6, 0, 0, 0, 0)], 0x400000))
    write("elf", "overlap", elf([(1, 5, 0, 0x200000, 0x100, 0x2000), (1, 6, 0x100, 0x201000, 0x10, 0x10)], 0x200000))
    write("elf", "entry-not-executable", elf([(1, 6, 0, 0x200000, 0x100, 0x100)], 0x200000))
    write("elf", "big-phentsize", elf([(1, 5, 0, 0x200000, 0x100, 0x100)], 0x200000, phentsize=64))
    write("elf", "wraps", elf([(1, 5, 0, 0xFFFFFFFFFFFFF000, 0x10, 0x2000)], 0xFFFFFFFFFFFFF000))
    write("elf", "bss-only-and-empty", elf([(1, 5, 0, 0x200000, 0x10, 0x10), (1, 6, 0, 0x300000, 0, 0x10000),
                                            (1, 6, 0, 0x100000, 0, 0)], 0x200004))
    write("elf", "truncated", elf([(1, 5, 0, 0x200000, 0x100, 0x100)], 0x200000)[:150])


def handoff_seeds():
    """fuzz_handoff: flags, the block (fields as in include/handoff.h; the rest zero), the map."""
    BLOCK = 3200  # sizeof(struct pmm_handoff) when written; the target copies its own size
    CPUS = 2160  # offset of ncpus (version 3)

    def block(self=0x1000, state=0x1F000000, mphys=0x2000, msize=480, dsize=48, kphys=0x200000,
              kpages=13, sphys=0x300000, spages=4, pphys=0x400000, ppages=8, cpus=(0, 1, 2, 3), found=None,
              bsp=0, source=1):
        b = struct.pack("<QIIII", 0x46464F444E414850, 1, BLOCK, 0, 0)
        b += struct.pack("<QQQQQQII", self, state, 0, mphys, msize, dsize, 1, 0)
        b += struct.pack("<QQQQQQQQ", kphys, kpages, 0xFFFFFFFF80000000, sphys, spages, pphys, ppages, 1 << 32)
        b = b.ljust(CPUS, b"\0")
        b += struct.pack("<IIII", len(cpus), len(cpus) if found is None else found, bsp, source)
        b += b"".join(struct.pack("<I", c) for c in cpus)
        return b.ljust(BLOCK, b"\0")

    m = emap(SMALL_PC + [(LDATA, 0x200000, 13), (BDATA, 20 * MIB, 16)])
    write("handoff", "good", b"\x0f" + block(msize=len(m)) + m)
    write("handoff", "good-no-map", b"\x03" + block(msize=len(m)))
    write("handoff", "kernel-hides-overlap", b"\x0f" + block(kphys=0x100000, kpages=0x10000000) + m[:480])
    write("handoff", "stack-wraps", b"\x0f" + block(sphys=0xFFFFFFFFFFFFF000, spages=2) + m[:480])
    write("handoff", "map-wraps", b"\x03" + block(mphys=0xFFFFFFFFFFFFF000, msize=4800))
    write("handoff", "bad-desc-size", b"\x0f" + block(dsize=39, msize=39 * 4) + m[: 39 * 4])
    write("handoff", "unaligned", b"\x0f" + block(pphys=0x400800) + m[:480])
    write("handoff", "raw", block())
    write("handoff", "cpus-x2apic-more-found", b"\x0f" + block(msize=len(m), cpus=(0, 300, 2, 70000), found=9,
                                                               bsp=3, source=2) + m)
    write("handoff", "cpus-one", b"\x03" + block(msize=len(m), cpus=(5,), source=3))
    write("handoff", "cpus-twice", b"\x03" + block(msize=len(m), cpus=(0, 1, 2, 1)))
    write("handoff", "cpus-bsp-out", b"\x03" + block(msize=len(m), bsp=4))
    write("handoff", "cpus-full", b"\x03" + block(msize=len(m), cpus=tuple(range(256)), bsp=255))
    # the live-allocator response of revision 1 (struct pmm_response, 160 bytes), then its arrays:
    # 2 CPUs on 2 nodes, one handed run, no kept table, 2 NUMA ranges, the 2x2 distances, domains
    def response(abi=5):
        head = struct.pack("<QQQIIIIIIQQQQQQQQIIQQQQ", 1, 0x800000, 0, abi, 0, 0, 0, 1, 2, 2, 0, 1, 0,
                           0, 0, 0, 0, 3, 2, 2, 0, 0, 0)
        cpus = struct.pack("<IIII", 0, 0, 1, 0) + struct.pack("<IIII", 1, 1, 1, 1)
        handed = struct.pack("<QQII", 0x100000, 4, 3, 0)
        ranges = struct.pack("<QQII", 0, 0x80000, 0, 0) + struct.pack("<QQII", 0x80000, 0x80000, 1, 1)
        return head + cpus + handed + ranges + bytes([10, 21, 21, 10]) + struct.pack("<II", 0, 1)
    write("handoff", "response-numa-2-nodes", b"\x7f" + response())


def madt_seeds():
    """fuzz_madt: flags (7: signature, length and checksum fixed), then an MADT."""

    def madt(*entries):
        return b"APIC" + struct.pack("<IBB6s8sI4sI", 0, 5, 0, b"PMMTST", b"SEEDS", 1, b"PMM ", 1) + \
            struct.pack("<II", 0xFEE00000, 1) + b"".join(entries)

    def lapic(uid, apic, flags):
        return struct.pack("<BBBBI", 0, 8, uid, apic, flags)

    def x2apic(apic, flags, uid):
        return struct.pack("<BBHIII", 9, 16, 0, apic, flags, uid)

    ioapic = struct.pack("<BBBBII", 1, 12, 0, 0, 0xFEC00000, 0)
    iso = struct.pack("<BBBBIH", 2, 10, 0, 0, 2, 0)
    nmi = struct.pack("<BBBHB", 4, 6, 0xFF, 0, 1)
    write("madt", "qemu-like-4", b"\x07" + madt(*[lapic(i, i, 1) for i in range(4)], ioapic, iso, nmi))
    write("madt", "x2apic-mixed", b"\x07" + madt(lapic(0, 0, 1), x2apic(300, 1, 1), x2apic(0, 1, 0),
                                                 lapic(2, 2, 0), lapic(3, 3, 2), x2apic(301, 2, 3)))
    write("madt", "empty", b"\x07" + madt())
    write("madt", "short-entry", b"\x07" + madt(lapic(0, 0, 1), b"\x00\x06\x01\x01\x01\x00"))
    write("madt", "entry-past-end", b"\x07" + madt(lapic(0, 0, 1), x2apic(5, 1, 5)[:12]))
    write("madt", "raw", madt(lapic(0, 0, 1)))


def numa_seeds():
    """fuzz_numa: flags (0x3f: both tables' signature, length and checksum fixed), CPU count,
    the SRAT's size (2 bytes), the SRAT, then the SLIT."""

    def sdt(sig, rev, body):
        return sig + struct.pack("<IBB6s8sI4sI", 0, rev, 0, b"PMMTST", b"SEEDS", 1, b"PMM ", 1) + body

    def srat(*entries, rev=3):
        return sdt(b"SRAT", rev, struct.pack("<IQ", 1, 0) + b"".join(entries))

    def apic(apic_id, dom, flags=1):
        return struct.pack("<BBBBIB3sI", 0, 16, dom & 0xFF, apic_id, flags, 0,
                           (dom >> 8).to_bytes(3, "little"), 0)

    def x2apic(apic_id, dom, flags=1):
        return struct.pack("<BBHIIIII", 2, 24, 0, dom, apic_id, flags, 0, 0)

    def mem(base, length, dom, flags=1):
        return struct.pack("<BBIHQQIIQ", 1, 40, dom, 0, base, length, 0, flags, 0)

    def slit(n, d):
        return sdt(b"SLIT", 1, struct.pack("<Q", n) + bytes(d(i, j) for i in range(n) for j in range(n)))

    def seed(name, ncpus, s, l=b"", flags=0x3F):
        write("numa", name, bytes([flags, ncpus]) + struct.pack("<H", len(s)) + s + l)

    # QEMU 7.2's shape for -numa node,memdev=..,cpus=0-1 -numa node,memdev=..,cpus=2-3 on q35:
    # the 640 KiB hole cut out of node 0, empty disabled entries, the hot-plug region last
    qemu2 = srat(*[apic(i, i // 2) for i in range(4)], mem(0, 0xA0000, 0), mem(0x100000, 0xFF00000, 0),
                 mem(0x10000000, 0x10000000, 1), mem(0, 0, 0, 0), mem(0, 0, 0, 0),
                 mem(0x100000000, 0x40000000, 1, 3))
    seed("qemu-2-nodes", 4, qemu2, slit(2, lambda i, j: 10 if i == j else 21))
    seed("qemu-2-nodes-no-slit", 4, qemu2)
    seed("x2apic-8-nodes-sparse", 32,
         srat(*[x2apic(i, [9, 1, 15, 4, 12, 3, 10, 6][i % 8]) for i in range(32)],
              *[mem(g << 30, 1 << 30, [9, 1, 15, 4, 12, 3, 10, 6][g]) for g in range(8)]),
         slit(16, lambda i, j: 10 if i == j else 20 + i + 2 * j))
    seed("unaligned-merged", 2, srat(apic(0, 0), apic(1, 1), mem(5, 0x100000, 0), mem(0x100005, 0x1000, 0),
                                     mem(0x200000, 0x200000, 1, 3), mem(0x400000, 0x200000, 1, 3)))
    seed("rev1-domains", 2, srat(apic(0, 0x1203), mem(0, 0x1000000, 0xABCD0003), rev=1))
    seed("overlap", 2, srat(apic(0, 0), mem(0, 0x200000, 0), mem(0x100000, 0x200000, 1)))
    seed("cpu-two-domains", 2, srat(apic(1, 0), x2apic(1, 1), mem(0, 0x200000, 0)))
    seed("short-entry", 2, srat(apic(0, 0), mem(0, 0x200000, 0)[:39]))
    seed("slit-bad-diagonal", 2, srat(apic(0, 0), apic(1, 1), mem(0, 0x200000, 1)),
         slit(2, lambda i, j: 11 if i == j else 21))
    seed("slit-too-few", 2, srat(apic(0, 0), apic(1, 5)), slit(2, lambda i, j: 10 if i == j else 21))
    seed("raw", 1, srat(apic(0, 0)), slit(1, lambda i, j: 10), flags=0)


def limine_verify_seeds():
    """fuzz_limine_verify: a good set of Limine responses in 4- and 5-level mode, and near misses."""
    H4, H5, KB = 0xFFFF800000000000, 0xFF00000000000000, 0xFFFFFFFF80000000
    FB = 0xC0000000
    good_map = [(0, 0x1000, 1), (0x1000, 0x9F000, 0), (0x100000, 0x1500000, 0),
                (0x1600000, 0x26000, 6), (0x1626000, 0x1E000000 - 0x1626000, 5), (FB, 0x300000, 7)]

    def seed(name, flags=0x1B, hhdm=H4, paging=0x80, mm=None, mmflags=0, exe=(0x1600000, KB, 38),
             span=0, fbs=None, fbflags=0):
        mm = good_map if mm is None else mm
        fbs = [(FB, 1024, 768, 4096, 32, 1, (8, 16, 8, 8, 8, 0))] if fbs is None else fbs
        d = struct.pack("<BQB", flags, hhdm, paging)
        d += struct.pack("<IB", len(mm), mmflags)
        d += b"".join(struct.pack("<QQBB", b, n, t, 0) for b, n, t in mm)
        d += struct.pack("<BQQIQ", 0, exe[0], exe[1], exe[2], span)
        d += struct.pack("<BB", len(fbs), fbflags)
        for a, w, h, p, bpp, model, masks in fbs:
            d += struct.pack("<BQQQQHB6B", 0, a, w, h, p, bpp, model, *masks)
        write("limine_verify", name, d)

    seed("good")
    seed("good-5level", flags=0x1F, hhdm=H5, paging=0x81)
    seed("paging-disagrees", paging=0x81)
    seed("hhdm-5level-in-4", hhdm=H5)
    seed("unsorted", flags=0x1A, mm=[good_map[2], good_map[1]] + good_map[3:])
    seed("overlap", mm=[(0, 0x2000, 1)] + good_map[1:])
    seed("fb-over-ram", fbs=[(0x1E000000 - 0x1000, 1024, 768, 4096, 32, 1, (8, 16, 8, 8, 8, 0))])
    seed("fb-24bpp", flags=0x19, fbs=[(FB, 1024, 768, 3072, 24, 1, (8, 16, 8, 8, 8, 0))])
    seed("fb-masks-overlap", fbs=[(FB, 1024, 768, 4096, 32, 1, (8, 16, 8, 12, 8, 0))])
    seed("two-fbs", fbs=[(FB, 640, 480, 2560, 32, 1, (8, 16, 8, 8, 8, 0)),
                         (FB + 0x200000, 256, 256, 512, 16, 1, (5, 11, 6, 5, 5, 0))])
    seed("no-fb", fbs=[])
    seed("exec-in-hhdm", exe=(0x1600000, H4 + 0x200000, 38))
    seed("exec-span-too-big", flags=0x13, span=KB + 0x1000)
    seed("huge-count", mm=[], mmflags=0)
    write("limine_verify", "raw", b"")


SEEDS = {"map": map_seeds, "ops": ops_seeds, "reconcile": reconcile_seeds, "adopt": adopt_seeds,
         "mapfile": mapfile_seeds, "elf": elf_seeds, "handoff": handoff_seeds, "madt": madt_seeds,
         "limine_verify": limine_verify_seeds, "numa": numa_seeds}

if __name__ == "__main__":
    import sys
    # python3 tests/fuzz/seeds.py [TARGET...]: every target's seeds, or those named
    for target in sys.argv[1:] or SEEDS:
        SEEDS[target]()
