#!/usr/bin/env python3
"""Checks the serial log of tests/qemu/shell.nsh. Usage: check_shell.py LOG QEMU_STATUS SAVED_MAP

Each "== name" line in the log opens a section; the assertions below read the sections, and every
failure is listed with the whole log after it.
"""
import re
import sys

raw = open(sys.argv[1], errors="replace").read()
qemu_rc = int(sys.argv[2])
saved = open(sys.argv[3]).read()
text = re.sub(r"\x1b\[[0-9;=]*[a-zA-Z]", "", raw).replace("\r", "")
sections = {}
for m in re.finditer(r"^== (\S+)\n(.*?)(?=^== |\Z)", text, re.S | re.M):
    sections[m.group(1)] = m.group(2)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def sec(name):
    check(name in sections, f"section '{name}' missing")
    return sections.get(name, "")


def statuses(name):
    return re.findall(r"^rc=(0x[0-9A-Fa-f]+|)", sec(name), re.M)


def sfo_rows(name, table):
    body = sec(name)
    rows = []
    for line in body.splitlines():
        if not line.strip():
            continue
        ok = re.fullmatch(r'\w+(, ?"[^"]*")+', line) is not None
        check(ok, f"{name}: not standard-format output: {line!r}")
        if line.startswith(table + ","):
            rows.append(line.split('"')[1::2])
    check(body.lstrip().startswith('ShellCommand,"'), f"{name}: no ShellCommand line")
    return rows


def summary(name):
    rows = sfo_rows(name, "PmmSummary")
    check(len(rows) == 1, f"{name}: want one PmmSummary row")
    keys = "total free used meta alloc withheld largest below4g below16m".split()
    return dict(zip(keys, map(int, rows[0]))) if rows else {}


USAGE = "pmm - inspect and drive the uefi-pmm physical page allocator"

check(qemu_rc == 33, f"QEMU exited {qemu_rc}, want 33: pmm boot must reach the kernel's PASS")
check(statuses("load") == ["0x0"], "load of pmmcmd.efi failed")
check(USAGE in sec("help") and "pmm alloc N" in sec("help"), "help pmm does not show the usage")
check(re.search(r"^pmm: total=\d+ free=\d+ used=\d+ meta=\d+", sec("stats"), re.M), "no summary line")
check(statuses("stats") == ["0x0"], "pmm stats failed")

s1, s2, s3, s4 = (summary(f"stats-sfo-{i}") for i in range(1, 5))
check(s1.get("free", 0) + s1.get("used", -1) == s1.get("total"), "free + used != total")

# pmm map against the shell's own memmap: the same descriptors, except where the two snapshots
# differ by the pool memory the commands themselves allocated in between (usable either way).
mem = [r for r in sfo_rows("memmap-sfo", "MemoryMap")]
ours = sfo_rows("pmm-map-sfo", "PmmMap")
never_mem = sorted(tuple(r) for r in mem if r[0] not in ("Available", "BootServiceCode",
                   "BootServiceData", "LoaderCode", "LoaderData"))
never_ours = sorted(tuple(r[:5]) for r in ours if r[5] == "never")
check(never_mem == never_ours, f"never-usable descriptors differ: {set(never_mem) ^ set(never_ours)}")
usable = lambda rows: sum(int(r[3], 16) for r in rows)
mem_usable = usable([r for r in mem if tuple(r) not in never_mem])
ours_usable = usable([r for r in ours if r[5] != "never"])
check(mem_usable == ours_usable, f"usable pages: memmap {mem_usable}, pmm map {ours_usable}")
same = len(set(tuple(r) for r in mem) & set(tuple(r[:5]) for r in ours))
check(same >= len(mem) - 6, f"only {same} of {len(mem)} memmap descriptors appear verbatim in pmm map")
for r in ours:
    kind = {"Available": "free-now", "BootServiceCode": "after-exit", "BootServiceData": "after-exit",
            "LoaderCode": "after-exit", "LoaderData": "after-exit"}.get(r[0], "never")
    if int(r[4], 16) & (1 << 63):
        kind = "never"
    check(r[5] == kind, f"pmm map classified {r} as {r[5]}, the spec says {kind}")
addrs = [int(r[1], 16) for r in ours]
check(addrs == sorted(addrs), "pmm map is not sorted by address")
# the summary's total is what the map lists as usable (allocations only move pages between
# usable types)
check(s1.get("total") == ours_usable, f"summary total {s1.get('total')} != usable pages in pmm map {ours_usable}")

free_rows = sfo_rows("free-sfo", "PmmFree")
check(sum(int(r[2]) for r in free_rows) == s1.get("free"), "free ranges do not add up to free pages")
check(max((int(r[2]) for r in free_rows), default=0) == s1.get("largest"), "largest run disagrees")

pic = sec("picture")
check(len(re.findall(r"^0x[0-9A-F]{12} \|[ .#Mwri]+\|$", pic, re.M)) >= 8, "picture has no rows")
check("M metadata" in pic and "." in pic, "picture has no legend or no free memory")

m = re.search(r"allocated 16 pages at (0x[0-9A-F]+)", sec("alloc"))
check(m and statuses("alloc") == ["0x0"], "pmm alloc 16 failed")
if m:
    a = int(m.group(1), 16)
    check(a % 0x10000 == 0 and a + 16 * 4096 <= 16 << 20, f"alloc at {a:#x} breaks -align 64K -below 16M")
    check(f"last={m.group(1).lower()}" in sec("alloc").lower(), "%pmm_last% not set to the address")
check(s2.get("alloc") == s1.get("alloc", 0) + 16 and s2.get("free") == s1.get("free", 0) - 16,
      "the allocation does not show in the next stats")
check(statuses("ref") == ["0x0", "0x2", "0x0"], f"ref +, free of a shared page, ref -: {statuses('ref')}")
check(statuses("free") == ["0x0"] and s3 == s1, "free did not take the allocation back")

bad = statuses("bad")
check(len(bad) == 11 and all(s == "0x2" for s in bad), f"bad arguments must give 0x2: {bad}")
# 8 usage errors print the usage; the 3 refused operations (double free, unaligned free, ref
# of page 0) name the allocator's reason instead
check(sec("bad").count(USAGE) == 8, "bad arguments must print the usage")
check(len(re.findall(r"refused: .+", sec("bad"))) == 3, "refused operations must say why")
check(s4 == s3, "a refused command changed the allocator")
check("check ok" in sec("check") and statuses("check") == ["0x0"], "pmm check failed")
check("-- more" in raw and statuses("paged") == ["0x0"], "pmm map -b did not page")
check(statuses("save") == ["0x0"] and "saved" in sec("save"), "pmm save failed")
check(saved.count("efi: mem") == len(ours) or abs(saved.count("efi: mem") - len(ours)) <= 3,
      "saved map has a different number of descriptors")
check(USAGE in sec("usage"), "pmm -? does not show the usage")
app = statuses("app")
check(app == ["0x0", "0x2"] and "pmm: total=" in sec("app"), f"pmm.efi as an application: {app}")
check("allocated 3 pages" in sec("keep"), "pmm alloc 3 failed")
boot = sec("boot")
check("kernel: adopted the allocator" in boot and "kernel: verdict: PASS" in boot,
      "pmm boot did not reach the kernel's PASS")

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    print("---- shell log ----")
    print(text)
    sys.exit(1)
print(f"pmm shell command: {len(sections)} sections ok; {len(ours)} descriptors agree with memmap; "
      f"kernel PASS after pmm boot")
