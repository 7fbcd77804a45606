#!/bin/sh
# pmmsim.sh - the host simulator on real PCs' maps, a 12 TiB server map, and malformed input.
set -u
cd "$(dirname "$0")/.."
MAPS=${MAPS:-tests/memmaps}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check_json() { # MAP JSON SVG
    python3 - "$@" <<'PY' || fail=1
import json, subprocess, sys, xml.etree.ElementTree as ET
path, out, svg = sys.argv[1:4]
j = json.loads(open(out).read())
want = dict(kv.split("=") for kv in subprocess.check_output(
    ["python3", "tests/memmaps_expect.py", path], text=True).split())
errs = []
if j["selftest"] != "pass" or j["check"] != "ok":
    errs.append(f"self-test {j['selftest']}, check {j['check']}")
if j["total"] != int(want["total"]):
    errs.append(f"total {j['total']}, the map says {want['total']}")
if j["meta"] != int(want["meta"]):
    errs.append(f"metadata {j['meta']} pages, the documented layout needs {want['meta']}")
# After the self-test (which gives back all it took) only the loader's allocations are out: kernel
# 16, stack 16, handoff 1 and the final-map buffer of (descriptors + 128) * 48 bytes (pmmsim.c).
loader = 33 + -(-(int(want["ndesc"]) + 128) * 48 // 4096)
if j["descriptors"] != int(want["ndesc"]):
    errs.append(f"read {j['descriptors']} descriptors, the map has {want['ndesc']}")
free = int(want["total"]) - int(want["meta"]) - loader - int(want["page0_usable"])
if j["free"] != free:
    errs.append(f"free {j['free']} after the self-test, the map leaves {free}")
root = ET.parse(svg).getroot()
rects = [e for e in root.iter() if e.tag.endswith("rect")]
titles = [e for e in root.iter() if e.tag.endswith("title")]
if len(rects) < 10 or len(titles) < 5:
    errs.append(f"svg has {len(rects)} rects and {len(titles)} titles")
if errs:
    print(path + ": " + "; ".join(errs))
    sys.exit(1)
print(f"{path}: total={j['total']} free={j['free']} meta={j['meta']}; {len(titles)} segments drawn")
PY
}

nmaps=0
for f in "$MAPS"/*.txt; do
    [ -f "$f" ] || continue
    nmaps=$((nmaps + 1))
    b=$(basename "$f" .txt)
    if ! build/pmmsim --json --svg "$tmp/$b.svg" "$f" >"$tmp/$b.json"; then
        echo "pmmsim failed on $f"
        fail=1
        continue
    fi
    check_json "$f" "$tmp/$b.json" "$tmp/$b.svg"
done
if [ "$nmaps" -eq 0 ]; then
    echo "no real maps in $MAPS"
    fail=1
fi

# One real map rewritten in every format the reader accepts must replay to the same figures.
if [ -f "$MAPS/hp-pavilion-15-e006ax.txt" ]; then
    python3 - "$MAPS/hp-pavilion-15-e006ax.txt" "$tmp" <<'PY'
import re, sys
src, out = sys.argv[1:3]
names = {0: "Reserved", 1: "Loader Code", 2: "Loader Data", 3: "Boot Code", 4: "Boot Data",
         5: "Runtime Code", 6: "Runtime Data", 7: "Conventional Memory", 8: "Unusable Memory",
         9: "ACPI Reclaim Memory", 10: "ACPI Memory NVS", 11: "Memory Mapped I/O"}
shell = {0: "Reserved", 1: "LoaderCode", 2: "LoaderData", 3: "BS_Code", 4: "BS_Data", 5: "RT_Code",
         6: "RT_Data", 7: "Available", 8: "Unusable", 9: "ACPIRec", 10: "ACPI_NVS", 11: "MMIO"}
d = [tuple(int(x, 16) if i else int(x) for i, x in enumerate(m)) for m in
     re.findall(r"type=(\d+), attr=0x([0-9a-f]+), range=\[0x([0-9a-f]+)-0x([0-9a-f]+)\)", open(src).read())]
def attrs(a):
    cols = ["RUN" if a >> 63 else "   "] + ["  "] * 7 + ["WB" if a & 8 else "  ", "WT" if a & 4 else "  ",
            "WC" if a & 2 else "  ", "UC" if a & 1 else "  "]
    return "|".join(cols)
with open(f"{out}/named-incl.txt", "w") as f:
    for i, (t, a, s, e) in enumerate(d):
        f.write(f"efi: mem{i:02d}: [{names[t]:<19}|{attrs(a)}] range=[0x{s:016x}-0x{e - 1:016x}] ({(e - s) >> 20}MB)\n")
with open(f"{out}/named-excl.txt", "w") as f:
    for i, (t, a, s, e) in enumerate(d):
        f.write(f"Nov 21 07:00:00 host kernel: [    0.000000] EFI: mem{i:02d}: [{names[t]:<19}|{attrs(a)}] range=[0x{s:016x}-0x{e:016x}) ({(e - s) >> 20}MB)\n")
with open(f"{out}/memmap.txt", "w") as f:
    f.write("Type       Start            End              # Pages          Attributes\n")
    for t, a, s, e in d:
        f.write(f"{shell[t]:<10} {s:016X}-{e - 1:016X}  {(e - s) >> 12:016X} {a:016X}\n")
PY
    for v in named-incl named-excl memmap; do
        if build/pmmsim --json --svg "$tmp/$v.svg" "$tmp/$v.txt" >"$tmp/$v.json"; then
            python3 -c 'import json, sys; a, b = (json.load(open(f)) for f in sys.argv[1:3])
sys.exit(0 if all(a[k] == b[k] for k in ("total", "free", "meta", "span")) else f"{sys.argv[2]} differs from the numeric form")' \
                "$tmp/hp-pavilion-15-e006ax.json" "$tmp/$v.json" && echo "format $v: same figures as the numeric log" || fail=1
        else
            echo "pmmsim failed on the $v form"
            fail=1
        fi
    done
fi

# A two-node server: 6 TiB of RAM per node, a reserved hole between them, MMIO above.
python3 - >"$tmp/server.txt" <<'PY'
T = 1 << 40
rows = [(7, 0x1000, 0x9e000), (0, 0xa0000, 0x60000), (7, 0x100000, 0x7ff00000),
        (11, 0x80000000, 0x80000000), (7, 1 << 32, 6 * T - (1 << 32)), (0, 6 * T, 1 << 36),
        (7, 6 * T + (1 << 36), 6 * T), (11, 13 * T, 1 << 30)]
for i, (t, start, size) in enumerate(rows):
    attr = 0x8000000000000001 if t == 11 else 0xf
    print(f"efi: mem{i:02d}: type={t}, attr=0x{attr:x}, range=[0x{start:016x}-0x{start + size:016x}) ({size >> 20}MB)")
PY
if build/pmmsim --json --svg "$tmp/server.svg" "$tmp/server.txt" >"$tmp/server.json"; then
    check_json "$tmp/server.txt" "$tmp/server.json" "$tmp/server.svg"
else
    echo "pmmsim failed on the 12 TiB server map"
    fail=1
fi

# NUMA: a 4-socket map with its SRAT lines (tools/servermap.py). Each node's pages, as pmmsim's
# JSON reports them, must be the usable pages the map puts in the node's SRAT range, less the
# metadata run and page 0 where they lie: computed here from the map's own lines.
python3 tools/servermap.py --nodes 4 --node-gib 16 >"$tmp/numa.txt"
if build/pmmsim --json "$tmp/numa.txt" >"$tmp/numa.json"; then
    python3 - "$tmp/numa.txt" "$tmp/numa.json" <<'PY' || fail=1
import json, re, sys
text, j = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
usable, nodes = [], []
for m in re.finditer(r"type=(\d+), attr=0x([0-9a-f]+), range=\[0x([0-9a-f]+)-0x([0-9a-f]+)\)", text):
    t, attr, lo, hi = int(m[1]), int(m[2], 16), int(m[3], 16) >> 12, int(m[4], 16) >> 12
    if t in (1, 2, 3, 4, 7) and not attr >> 63:
        usable.append((lo, hi))
for m in re.finditer(r"SRAT: Node (\d+) PXM \d+ \[mem 0x([0-9a-f]+)-0x([0-9a-f]+)\]", text):
    nodes.append((int(m[1]), int(m[2], 16) >> 12, (int(m[3], 16) + 1) >> 12))
meta_lo = j["meta_phys"] >> 12
meta = (meta_lo, meta_lo + j["meta"])
def inside(a, b, lo, hi):
    return max(0, min(b, hi) - max(a, lo))
want = {}
for n, lo, hi in nodes:
    pages = sum(inside(a, b, lo, hi) for a, b in usable)
    pages -= inside(meta[0], meta[1], lo, hi) + inside(0, 1, lo, hi)
    want[n] = pages
got = {d["node"]: d["total"] for d in j["nodes"]}
if got != want:
    sys.exit(f"numa: pmmsim's nodes {got}, the map's SRAT ranges {want}")
print(f"numa: 4 nodes, each with the usable pages of its SRAT range: {sorted(got.values())}")
PY
else
    echo "pmmsim failed on the 4-node map"
    fail=1
fi

# Sparse memory (metadata for present sections only). 2 GiB of RAM, half of it at 16 TiB: the
# metadata must not cover the hole (it did, and did not fit, before sections); and a sparse
# 64 TiB server: eight nodes of 512 GiB, 8 TiB apart, MMIO windows between them.
python3 - "$tmp" <<'PY'
import sys
out = sys.argv[1]
T, G = 1 << 40, 1 << 30
def write(name, rows):
    with open(f"{out}/{name}.txt", "w") as f:
        for i, (t, start, size) in enumerate(rows):
            attr = 0x8000000000000001 if t == 11 else 0xf
            f.write(f"efi: mem{i:02d}: type={t}, attr=0x{attr:x}, range=[0x{start:016x}-0x{start + size:016x}) ({size >> 20}MB)\n")
write("far", [(7, 0x1000, 0x9e000), (0, 0xa0000, 0x60000), (7, 0x100000, G - 0x100000), (7, 16 * T, G)])
rows = [(7, 0x1000, 0x9e000), (0, 0xa0000, 0x60000), (7, 0x100000, 2 * G - 0x100000), (11, 3 * G, G)]
for node in range(8):
    base = max(4 * G, node * 8 * T)
    rows.append((7, base, 512 * G))
    rows.append((11, base + 512 * G + 64 * G, 64 * G))
write("sparse64t", rows)
PY
for m in far sparse64t; do
    if build/pmmsim --json --svg "$tmp/$m.svg" "$tmp/$m.txt" >"$tmp/$m.json"; then
        check_json "$tmp/$m.txt" "$tmp/$m.json" "$tmp/$m.svg"
    else
        echo "pmmsim failed on the sparse map $m"
        fail=1
    fi
done
python3 - "$tmp" <<'PY' || fail=1
import json, sys
far = json.load(open(f"{sys.argv[1]}/far.json"))
# 2 GiB of RAM: metadata for 2 GiB (about 0.06%) plus a 4-byte entry per 128 MiB of the hole
if far["meta"] * 4096 > 4 << 20:
    sys.exit(f"far map: {far['meta']} metadata pages for 2 GiB of RAM at 16 TiB")
print(f"far map (1 GiB at 16 TiB): {far['meta']} metadata pages, sections {far['sections']}")
PY

# Malformed input: a message naming the file and line, and a failure status.
printf 'efi: mem00: type=7, attr=0xf, range=[0x0000000000100000-0x0000000000200000) (1MB)\nefi: mem01: type=7, attr=0xf, range=[0x300000-0x200000) (0MB)\n' >"$tmp/bad.txt"
if build/pmmsim "$tmp/bad.txt" >"$tmp/out" 2>"$tmp/err" || ! grep -q "bad.txt:2: range ends before it starts" "$tmp/err"; then
    echo "malformed map: want failure naming line 2, got:"
    cat "$tmp/err"
    fail=1
else
    echo "malformed map refused: $(cat "$tmp/err")"
fi
exit $fail
