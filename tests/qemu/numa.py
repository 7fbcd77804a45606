#!/usr/bin/env python3
"""numa.py CONFIG - boot a NUMA machine under OVMF and check what the kernel says it received.

CONFIG is one of the machines below. Each is given to QEMU as -numa options (q35, 4 vCPUs), and
the expected nodes are worked out here from those same options, the way QEMU 7.2 lays guest RAM
out and writes its ACPI SRAT (hw/i386/acpi-build.c build_srat, pc_memory_init):

  - guest RAM is the nodes' memory in node order, from address 0; QEMU's SRAT gives [0, 640 KiB)
    to node 0 and cuts the 640 KiB - 1 MiB hole out of whichever node spans it;
  - q35 keeps min(RAM, lowmem) below 4 GiB, lowmem 2 GiB when RAM >= 2.75 GiB, else 2.75 GiB;
    the rest of the node that crosses lowmem continues at 4 GiB;
  - with -m ...,slots=S,maxmem=M, the hot-pluggable device memory region starts at 4 GiB + the
    RAM above 4 GiB, rounded up to 1 GiB, is M - RAM + S GiB long, and belongs to the last node;
  - -numa dist gives the SLIT (asymmetric pairs need both directions); without it QEMU writes no
    SLIT and the loader uses 10 and 20;
  - QEMU's default topology for -smp 4 is one socket of 4 cores: APIC IDs 0-3.

Two machines carry a table of our own (-acpitable; QEMU fixes its checksum): a SLIT with 11 on
its diagonal, and, with no -numa at all, an SRAT with a memory entry one byte short. Each must be
refused by name with its byte offset, the run going on (as one node for the SRAT).

Passes when QEMU exits 33 (the kernel's PASS), the loader's NUMA line and the kernel's lines
(nodes, domains, distances, ranges, each CPU's node) are exactly the expected ones, and the
allocator's lines (each CPU's node-local pages in the all-CPU self-test, each node's pages) agree
with the nodes' RAM.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30

# name: RAM, maxmem/slots (or None), nodes as (memory, cpus), distances {(src, dst): value}, extra
MACHINES = {
    # two nodes, asymmetric distances, a hot-pluggable region on the last node
    "two": dict(ram=1 * GIB, hotplug=(2 * GIB, 1), nodes=[(512 * MIB, [0, 1]), (512 * MIB, [2, 3])],
                dist={(0, 1): 21, (1, 0): 31}),
    # four nodes: node 2 without CPUs (and across the PCI hole: above 4 GiB), node 3 without memory
    "four": dict(ram=4 * GIB, hotplug=None,
                 nodes=[(1 * GIB, [0, 1]), (1 * GIB, [2]), (2 * GIB, []), (0, [3])],
                 dist={(0, 1): 20, (1, 0): 30, (0, 2): 25, (2, 0): 25, (0, 3): 15, (3, 0): 15,
                       (1, 2): 17, (2, 1): 17, (1, 3): 19, (3, 1): 19, (2, 3): 40, (3, 2): 40}),
    # QEMU's SRAT, our SLIT with locality 1's distance to itself 11: refused, 10 and 20 used
    "badslit": dict(ram=1 * GIB, hotplug=None, nodes=[(512 * MIB, [0, 1]), (512 * MIB, [2, 3])],
                    dist={}, slit=[[10, 21], [21, 11]]),
    # no -numa: our SRAT, its memory entry 39 bytes long: refused, one node
    "badsrat": dict(ram=1 * GIB, hotplug=None, nodes=None, dist={}, srat_short=True),
}


def table(sig, rev, body):
    """An ACPI table: header (checksum 0: QEMU computes it for -acpitable) and body."""
    head = sig + struct.pack("<IBB6s8sI4sI", 36 + len(body), rev, 0, b"UEFPMM", b"NUMATEST", 1,
                             b"PMM ", 1)
    return head + body


def expected_ranges(m):
    """(start, end, node, hot) of every SRAT memory range, merged as pmm_numa.h says."""
    ram = m["ram"]
    lowmem = 0x80000000 if ram >= 0xB0000000 else 0xB0000000
    below = min(ram, lowmem)
    out = []
    nxt = 0
    for node, (size, _) in enumerate(m["nodes"]):
        base, length = nxt, size
        nxt = base + length
        if base <= 640 * KIB < nxt:  # the hole at 640 KiB - 1 MiB is cut out of this node
            if 640 * KIB - base > 0:
                out.append((base, 640 * KIB, node, False))
            if nxt <= 1 * MIB:
                nxt = 1 * MIB
                continue
            base, length = 1 * MIB, nxt - 1 * MIB
        if base <= below < nxt:  # the part above lowmem continues at 4 GiB
            if below - base > 0:
                out.append((base, below, node, False))
            base, length = 4 * GIB, nxt - below
            nxt = base + length
        if length > 0:
            out.append((base, base + length, node, False))
    if m["hotplug"]:
        maxmem, slots = m["hotplug"]
        hp = (4 * GIB + (ram - below) + GIB - 1) // GIB * GIB
        out.append((hp, hp + maxmem - ram + slots * GIB, len(m["nodes"]) - 1, True))
    out.sort()
    merged = []
    for r in out:
        if merged and merged[-1][1] == r[0] and merged[-1][2:] == r[2:]:
            merged[-1] = (merged[-1][0], r[1], r[2], r[3])
        else:
            merged.append(r)
    return merged


def qemu_args(m, tmp):
    args = []
    if m["nodes"] is not None:
        for node, (size, cpus) in enumerate(m["nodes"]):
            opt = f"node,nodeid={node}"
            if size:
                args += ["-object", f"memory-backend-ram,id=m{node},size={size}"]
                opt += f",memdev=m{node}"
            if cpus:
                opt += f",cpus={cpus[0]}-{cpus[-1]}"
            args += ["-numa", opt]
        for (s, d), v in sorted(m["dist"].items()):
            args += ["-numa", f"dist,src={s},dst={d},val={v}"]
    if "slit" in m:
        n = len(m["slit"])
        path = os.path.join(tmp, "slit.bin")
        open(path, "wb").write(table(b"SLIT", 1, struct.pack("<Q", n) +
                                     bytes(v for row in m["slit"] for v in row)))
        args += ["-acpitable", f"file={path}"]
    if m.get("srat_short"):
        cpu = struct.pack("<BBBBIB3sI", 0, 16, 0, 0, 1, 0, b"\0\0\0", 0)
        mem = struct.pack("<BBIHQQIIQ", 1, 39, 0, 0, 0, m["ram"], 0, 1, 0)[:39]
        path = os.path.join(tmp, "srat.bin")
        open(path, "wb").write(table(b"SRAT", 3, struct.pack("<IQ", 1, 0) + cpu + mem))
        args += ["-acpitable", f"file={path}"]
    return args


def main():
    name = sys.argv[1]
    m = MACHINES[name]
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "serial.log")
        mem = f"{m['ram'] // MIB}M"
        if m["hotplug"]:
            mem += f",slots={m['hotplug'][1]},maxmem={m['hotplug'][0] // MIB}M"
        cmd = ["ovmf/run.sh", "--mem", mem, "--smp", "4", "--machine", "q35", "--timeout", "300",
               "--log", log, "--"] + qemu_args(m, tmp)
        rc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
        text = open(log, "rb").read().decode("utf-8", "replace") if os.path.exists(log) else ""
    text = re.sub(r"\x1b\[[0-9;=?]*[a-zA-Z]", "", text).replace("\r", "")
    lines = text.split("\n")
    check(rc == 33, f"QEMU exited {rc}, want 33 (kernel PASS)")
    check("kernel: verdict: PASS" in lines, "no PASS verdict")
    got = [l for l in lines if l.startswith("kernel: numa: ")]

    want = []
    loader = None
    if m["nodes"] is None:
        loader = ("loader: NUMA: SRAT: a memory affinity entry shorter than 40 bytes (at byte 64); "
                  "the run goes on as one node")
        want.append("kernel: numa: 1 node (one node: the loader used no ACPI SRAT)")
        want.append("kernel: numa: node 0: proximity domain 0, distances 10")
        cpu_node = [0, 0, 0, 0]
    else:
        nn = len(m["nodes"])
        ranges = expected_ranges(m)
        dist = [[10 if i == j else m["dist"].get((i, j), m["dist"].get((j, i), 20))
                 for j in range(nn)] for i in range(nn)]
        slit = "; distances from the ACPI SLIT" if m["dist"] else "; no SLIT: distances 10 and 20"
        if "slit" in m:
            n = len(m["slit"])
            at = next(44 + i * n + i for i in range(n) if m["slit"][i][i] != 10)
            slit = f"; SLIT: a locality's distance to itself is not 10 (at byte {at}): distances 10 and 20"
        loader = f"loader: NUMA: {nn} nodes, {len(ranges)} memory ranges (ACPI SRAT){slit}"
        how = "ACPI SRAT, distances from the SLIT" if m["dist"] else "ACPI SRAT; no SLIT: distances 10 and 20"
        want.append(f"kernel: numa: {nn} nodes ({how})")
        for i in range(nn):
            want.append(f"kernel: numa: node {i}: proximity domain {i}, distances " +
                        " ".join(str(d) for d in dist[i]))
            for s, e, node, hot in ranges:
                if node == i:
                    want.append(f"kernel: numa: node {i} memory [{s:#x}, {e:#x})" +
                                (" hot-pluggable" if hot else ""))
        cpu_node = [next(n for n, (_, cpus) in enumerate(m["nodes"]) if c in cpus) for c in range(4)]
    for c in range(4):
        want.append(f"kernel: numa: CPU {c} (APIC ID {c}) on node {cpu_node[c]}")
    # The allocator's own lines. Each CPU's pages in the all-CPU self-test: none node-local when
    # its node has no RAM, else at least 90% (runs bounded below 1 or 16 MiB come from node 0;
    # the kernel itself fails the run on a remote single page while the node had pages free).
    # With more than one node, each node's pages: at most its RAM, and at least 90% of it (the
    # firmware's own areas are not the pool's).
    ram = {}
    if m["nodes"] is not None:
        for s0, e0, node, hot in expected_ranges(m):
            if not hot:
                ram[node] = ram.get(node, 0) + (e0 - s0) // 4096
    local_re = re.compile(r"kernel: numa: CPU (\d+) node (\d+): (\d+) of (\d+) pages node-local$")
    node_re = re.compile(r"kernel: numa: node (\d+): (\d+) pages, (\d+) free$")
    seen = set()
    for g in list(got):
        mm = local_re.match(g)
        if mm:
            c, n, loc, tot = (int(x) for x in mm.groups())
            seen.add(c)
            check(n == cpu_node[c], f"CPU {c} allocated as node {n}, configured on node {cpu_node[c]}")
            has_ram = m["nodes"] is None or ram.get(n, 0) > 0
            check(tot > 0 and (loc * 10 >= tot * 9 if has_ram else loc == 0),
                  f"CPU {c} on node {n}: {loc} of {tot} pages node-local")
            got.remove(g)
            continue
        mm = node_re.match(g)
        if mm and m["nodes"] is not None:
            n, pages, free = (int(x) for x in mm.groups())
            r = ram.get(n, 0)
            check(free <= pages <= r and pages >= r * 9 // 10,
                  f"node {n}: {pages} pages ({free} free), its RAM {r} pages")
            got.remove(g)
    check(seen == set(range(4)), f"CPUs with a node-local line: {sorted(seen)}")
    check(loader in lines, f"no loader line '{loader}'")
    missing = [w for w in want if w not in got]
    extra = [g for g in got if g not in want]
    check(not missing, "missing: " + "; ".join(missing))
    check(not extra, "not expected: " + "; ".join(extra))
    if failures:
        print(f"numa {name}: " + "\n  ".join(failures))
        print(f"---- boot log (exit status {rc}) ----")
        print("\n".join(l for l in lines if not l.startswith("kernel: map:")))
        sys.exit(1)
    nodes = 1 if m["nodes"] is None else len(m["nodes"])
    nranges = 0 if m["nodes"] is None else len(expected_ranges(m))
    print(f"numa {name}: {nodes} node(s), {nranges} memory ranges, 4 CPUs' nodes as configured")


if __name__ == "__main__":
    main()
