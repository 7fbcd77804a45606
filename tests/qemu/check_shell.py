#!/usr/bin/env python3
"""Checks the serial log of tests/qemu/shell.nsh. Usage: check_shell.py LOG QEMU_STATUS FILES_DIR

FILES_DIR holds what the guest left on its disks, copied out by shell.sh: pmmmap.txt (pmm save),
stats.txt, memmap.txt, map.txt (output redirected to files), pf.txt, err.txt, oom.txt (standard
output or standard error of refused commands, redirected), startup.nsh (which `pmm save` must
not have replaced), old.txt (the file a failed `pmm save -f` must leave alone), keep.txt.new (a
file of that name a save must not take), and the directory listings of both volumes (root.dir,
full.dir).

Each "== name" line in the log opens a section; the assertions below read the sections, and every
failure is listed with the whole log after it.
"""
import os
import re
import sys

raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
qemu_rc = int(sys.argv[2])
files = sys.argv[3]
raw = re.sub(r"\x1b\[[0-9;=?]*[a-zA-Z]", "", raw)
text = raw.replace("\r", "")
sections, raw_sections = {}, {}
for m in re.finditer(r"^== (\S+)\n(.*?)(?=^== |\Z)", text, re.S | re.M):
    sections[m.group(1)] = m.group(2)
for m in re.finditer(r"== (\S+)\r*\n(.*?)(?=\n== |\Z)", raw, re.S):
    raw_sections[m.group(1)] = m.group(2)
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


def last(name):
    m = re.search(r"last=(\S*)", sec(name))
    return m.group(1) if m else None


def readfile(name, enc="utf-8"):
    path = os.path.join(files, name)
    if not check(os.path.exists(path), f"{name} was not copied out of the guest's disk"):
        return ""
    return open(path, "rb").read().decode(enc, "replace")


def sfo_rows(name, table, body=None):
    body = sec(name) if body is None else body
    rows = []
    for line in body.splitlines():
        if not line.strip():
            continue
        ok = re.fullmatch(r'\w+(, ?"[^"]*")+', line) is not None
        check(ok, f"{name}: not standard-format output: {line!r}")
        if line.startswith(table + ","):
            rows.append(line.split('"')[1::2])
    check(body.lstrip().startswith('ShellCommand,"'), f"{name}: does not start with ShellCommand")
    return rows


def summary(name):
    rows = sfo_rows(name, "PmmSummary")
    check(len(rows) == 1, f"{name}: want one PmmSummary row")
    keys = "total free used meta alloc withheld largest below4g below16m".split()
    return dict(zip(keys, map(int, rows[0]))) if rows else {}


# The manual page is the one source of the syntax: read what the usage lines must be from it.
man = open(os.path.join(os.path.dirname(__file__), "../../efi/shell/pmm.man")).read()
synopsis = [l for l in re.search(r"^\.SH SYNOPSIS\n(.*?)^\.SH", man, re.S | re.M).group(1).splitlines()
            if l.startswith("pmm")]
SUBS = "stats map ranges picture alloc free ref check save boot".split()
# the one-line description `help` lists after the name (the NAME section's text)
BRIEF = "Inspect and drive the uefi-pmm physical page allocator"


def usage_of(sub):
    return [s for s in synopsis if re.match(rf"pmm \[?{sub}\b", s)]


def flat(body):
    """Body with wrapped lines joined again: a message is the same however it breaks."""
    return re.sub(r"\n +", " ", body)


def syntax_error(name, sub, *words):
    """A syntax error: 0x2, one message naming the problem, the subcommand's usage line only."""
    body = sec(name)
    check(statuses(name) == ["0x2"], f"{name}: status {statuses(name)}, want 0x2")
    lines = [l for l in body.splitlines() if l and not l.startswith("rc=")]
    want = ["usage: " + u for u in usage_of(sub)]
    check(len(want) == 1 and lines[1:] == want,
          f"{name}: want one message line, then only {want}; got {lines}")
    for w in words:
        check(w.lower() in flat(body).lower(), f"{name}: the message does not say {w!r}: {lines[:1]}")
    check(BRIEF.lower() not in body.lower(), f"{name}: prints the whole manual instead of the usage line")


def one_message(name, status, *words, absent=()):
    body = sec(name)
    check(statuses(name) == [status], f"{name}: status {statuses(name)}, want {status}")
    check("usage:" not in body, f"{name}: not a syntax error, but the usage is shown")
    for w in words:
        check(w.lower() in flat(body).lower(), f"{name}: does not say {w!r}: {body!r}")
    for w in absent:
        check(w.lower() not in flat(body).lower(), f"{name}: says {w!r}: {body!r}")
    return body


def fits_80(name, body):
    for line in body.splitlines():
        check(len(line) < 80, f"{name}: line of {len(line)} columns: {line!r}")


def summary_line(body):
    """The summary line `pmm: total=...` with its continuation lines (indented 5) joined."""
    lines = body.splitlines()
    for i, l in enumerate(lines):
        if l.startswith("pmm: total="):
            for more in lines[i + 1:]:
                if not re.match(r"     \S+=", more):
                    break
                l += " " + more.strip()
            return l
    return ""


def in_row(rows, addr):
    """The row of an -sfo map (type, start, end, ...) holding addr, or None."""
    for r in rows:
        if int(r[1], 16) <= addr <= int(r[2], 16):
            return r
    return None


# --- the run as a whole
check(qemu_rc == 33, f"QEMU exited {qemu_rc}, want 33: pmm boot must reach the kernel's PASS")
check(statuses("load") == ["0x0"], "load of pmmcmd.efi failed")
boot = sec("boot")
check("kernel: adopted the allocator" in boot and "kernel: verdict: PASS" in boot,
      "pmm boot did not reach the kernel's PASS")
check("kernel: command line: booted by pmm boot from limine.conf" in boot,
      "pmm boot did not take its entry from the limine.conf it was given")

# --- help: one title, the sections `help` shows under their headings, lines under 80 columns
helptext = sec("help")
check(helptext.lower().count("inspect and drive the uefi-pmm") == 1, "help pmm: want the title once")
check([l for l in helptext.splitlines() if l.strip()][:1] == [BRIEF + "."],
      f"help pmm: does not open with {BRIEF!r}")
for h in ("SYNOPSIS", "OPTIONS", "DESCRIPTION", "STATUS", "EXAMPLES"):
    check(re.search(rf"^{h}:$", helptext, re.M), f"help pmm: no {h}: heading")
check(all(s in helptext for s in synopsis), "help pmm: SYNOPSIS incomplete")
check("pmm alloc 16 -align 64K -below 16M" in helptext, "help pmm: no EXAMPLES")
for v in "0x0 0x1 0x2 0x7 0x9 0xE 0xF 0x15".split():
    check(re.search(rf"^  {v} ", helptext, re.M), f"help pmm: %pmm_status% {v} not documented")
check("%pmm_last%" in helptext and "%pmm_status%" in helptext, "help pmm: variables mangled")
fits_80("help", helptext)
# the page compiled into the driver has " " for blank lines (the shell's parser drops empty ones)
same_text = lambda a, b: [l.rstrip() for l in a.splitlines()] == [l.rstrip() for l in b.splitlines()]
check(same_text(sec("usage"), helptext), "pmm -? does not print what help pmm prints")
check(same_text(sec("app-help"), helptext), "pmm.efi -? does not print the manual (pmm.man next to it)")
check(same_text(sec("help-h"), helptext), "pmm -h does not print what help pmm prints")
# `help` alone lists each command with its NAME text: the name once
listed = re.findall(r"^pmm +- (.*)$", sec("help-list"), re.M)
check(listed == [BRIEF + "."], f"help lists pmm as {listed}, want {BRIEF!r} once, after one name")
# pmm SUB -h: that subcommand's usage, description and options, not the whole page
for sub in SUBS:
    name = "help-" + sub
    body = sec(name)
    check(all(u in body for u in usage_of(sub)), f"{name}: no usage line {usage_of(sub)}")
    others = [u for u in synopsis if u not in usage_of(sub) and u in body]
    check(not others, f"{name}: shows other subcommands' usage: {others}")
    check(re.search(rf"^{sub} +\S", body, re.M), f"{name}: no description of {sub}")
    check(BRIEF.lower() not in body.lower(), f"{name}: the whole manual")
    fits_80(name, body)
check(statuses("help-alloc") == ["0x0"], f"pmm alloc -h: status {statuses('help-alloc')}")
for opt in ("-align A", "-below ADDR"):
    check(opt in sec("help-alloc"), f"pmm alloc -h: option {opt} not described")

# --- output written to files: CR LF once per line, like memmap; no build line in -sfo
stats_file = readfile("stats.txt", "utf-16")
memmap_file = readfile("memmap.txt", "utf-16")
map_file = readfile("map.txt", "utf-16")
check("\r\n" in memmap_file and "\r\r" not in memmap_file, "memmap -sfo > file: not CR LF")
for name, body in (("stats.txt", stats_file), ("map.txt", map_file)):
    check(body.count("\n") > 3, f"{name}: empty")
    check("\r\r" not in body, f"{name}: CR CR LF line ends")
    check(all(l.endswith("\r") for l in body.split("\n")[:-1]), f"{name}: a line not ended by CR LF")
check(statuses("files") == ["0x0"], "pmm stats -sfo > file failed")
# stats.txt is the driver's first use: it builds the allocator, and says so only outside -sfo
sfo_rows("stats.txt", "PmmSummary", stats_file.replace("\r", "").lstrip("\ufeff"))
for name in [n for n in raw_sections if n != "memmap-sfo"]:
    check("\r\r\n" not in raw_sections[name], f"{name}: CR CR LF on the console")

# --- stats and listings
check(re.search(r"^pmm: total=\d+ free=\d+ used=\d+ meta=\d+", sec("stats"), re.M), "no summary line")
check(statuses("stats") == ["0x0"], "pmm stats failed")
fits_80("stats", sec("stats"))
s1, s2, s3, s4 = (summary(f"stats-sfo-{i}") for i in range(1, 5))
# the summary line, wrapped to fit, still says all the -sfo summary says (nothing changed between)
said = dict(re.findall(r"(\w+)=(\d+)\b", summary_line(sec("stats"))))
check({k: int(v) for k, v in said.items() if k in s1} == s1,
      f"pmm stats summary line {said} disagrees with pmm stats -sfo {s1}")
# (used is total - free by definition: nothing to check there; total is checked below against
# the usable pages of the shell's own memmap)

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
check(s1.get("total") == ours_usable, f"summary total {s1.get('total')} != usable pages in pmm map {ours_usable}")
# sections (128 MiB): those holding usable memory in the shell's own memmap, and how many the
# span needs, against what pmm stats -sfo reports
usable_mem = [r for r in mem if r[0] in ("Available", "BootServiceCode", "BootServiceData",
              "LoaderCode", "LoaderData") and not int(r[4], 16) & (1 << 63)]
secs = {k for r in usable_mem for k in range(int(r[1], 16) >> 27,
        ((int(r[1], 16) + int(r[3], 16) * 4096 - 1) >> 27) + 1)}
span_secs = -(-max(int(r[1], 16) + int(r[3], 16) * 4096 for r in usable_mem) // (1 << 27))
sec_rows = sfo_rows("stats-sfo-1", "PmmSections")
check(len(sec_rows) == 1 and sec_rows[0] == [str(len(secs)), str(span_secs), "0"],
      f"pmm stats -sfo sections {sec_rows}, memmap says {len(secs)} of {span_secs}, 0 unmanaged")
check(re.search(rf"sections of 128 MiB: {span_secs}, {len(secs)} with RAM", sec("stats")),
      "pmm stats does not show the sections")
maplines = [l for l in sec("map").splitlines() if re.match(r"\w+ +[0-9A-F]{12}-", l)]
check(abs(len(maplines) - len(ours)) <= 3, f"pmm map lists {len(maplines)} descriptors, -sfo {len(ours)}")
fits_80("map", sec("map"))

# pmm map shows what memmap shows right after it: no buffer of its own that is gone by then
after = {tuple(r) for r in sfo_rows("memmap-after", "MemoryMap")}
gone = [r for r in ours if r[0] in ("LoaderCode", "LoaderData") and tuple(r[:5]) not in after]
check(not gone, f"pmm map -sfo lists loader memory that memmap right after does not: {gone}")

# one source for each figure: the footer counts the rows above it; the map the allocator was
# built from (pmm stats) differs from it by the allocator's own pages, which the footer names
kind_of = {"free-now": 0, "after-exit": 1, "never": 2}
sums = [0, 0, 0]
for l in maplines:
    f = l.split()
    sums[kind_of.get(f[-1], 2)] += int(f[-3])
foot = re.search(r"^(\d+) descriptors;\s+pages\s+free-now\s+(\d+),\s+after-exit\s+(\d+),\s+"
                 r"never\s+(\d+)$", sec("map"), re.M)
if check(foot, "pmm map: no footer"):
    check(int(foot.group(1)) == len(maplines), f"pmm map: footer says {foot.group(1)} descriptors, "
          f"lists {len(maplines)}")
    check([int(x) for x in foot.groups()[1:]] == sums, f"pmm map: footer {foot.groups()[1:]}, rows add "
          f"up to {sums}")
own = re.search(r"after-exit includes the allocator's LoaderData:\s+metadata (\d+),\s+allocated (\d+)",
                sec("map"))
check(own and (int(own.group(1)), int(own.group(2))) == (s1.get("meta"), s1.get("alloc")),
      f"pmm map does not name the allocator's own pages as stats does: {own and own.groups()}")
kinds = {r[0]: int(r[1]) for r in sfo_rows("stats-sfo-1", "PmmKind")}
built = re.search(r"the map it was built from:\s+(\d+)\s+descriptors;\s+pages\s+free-now\s+(\d+),\s+"
                  r"after-exit\s+(\d+),\s+never\s+(\d+)", sec("stats"))
if check(built, "pmm stats: does not say which map its kinds are from"):
    check([int(x) for x in built.groups()[1:]] == [kinds.get(k) for k in ("free-now", "after-exit", "never")],
          f"pmm stats: map kinds {built.groups()[1:]} disagree with -sfo {kinds}")
    if foot:
        # the firmware moves a few pages of its own between the two commands, never many
        moved = int(built.group(2)) - s1.get("meta", 0) - s1.get("alloc", 0) - int(foot.group(2))
        check(abs(moved) <= 16, f"free at build minus the allocator's pages is {moved} off free now")
fits_80("map.txt", map_file.replace("\r", ""))

free_rows = sfo_rows("ranges-sfo", "PmmRanges")
check(not sfo_rows("ranges-sfo", "PmmFree"), "pmm ranges -sfo: the table is still called PmmFree")
rl = sec("ranges").splitlines()
check(rl and re.match(r"^\s*Start\s+End\s+Pages\s+KiB\s*$", rl[0]), f"pmm ranges: no header row: {rl[:1]}")
check(sum(int(r[2]) for r in free_rows) == s1.get("free"), "free ranges do not add up to free pages")
check(max((int(r[2]) for r in free_rows), default=0) == s1.get("largest"), "largest run disagrees")
check(statuses("ranges") == ["0x0"] and "free range" in sec("ranges"), "pmm ranges failed")
fits_80("ranges", sec("ranges"))
check(not re.search(r"\b1 pages\b|\b1 references\b", text), "'1 pages' or '1 references' in the log")

# --- the picture: three pages allocated at 0x1000 show in the first slice; slices are 2^n pages
low = sec("low-alloc")
check(statuses("low-alloc") == ["0x0"] and last("low-alloc") == "0x1000",
      f"pmm alloc 3 -below 1M: want 0x1000, got {last('low-alloc')}")
pic = sec("picture")
rows = re.findall(r"^0x([0-9A-F]{12}) \|([ .#Mwri]+)\|$", pic, re.M)
check(len(rows) >= 8, "picture has no rows")
m = re.search(r"one character = (\d+) KiB", pic)
if check(m and rows, "picture: no scale"):
    kib = int(m.group(1))
    check(kib % 4 == 0 and (kib // 4) & (kib // 4 - 1) == 0, f"picture: {kib} KiB is not 2^n pages")
    step = len(rows[0][1]) * kib * 1024
    check(all(int(a, 16) == i * step for i, (a, _) in enumerate(rows)), "picture: rows not evenly spaced")
    check(rows[0][1][0] == "#", f"picture: 3 pages allocated at 0x1000 not drawn: {rows[0][1]!r}")
    check(sum(r.count("#") for _, r in rows) == 1, "picture: # where nothing is allocated")
check("M metadata" in pic and "." in pic, "picture has no legend or no free memory")
fits_80("picture", pic)

# --- a refusal names the real cause, checked against what the map says the page is
one_message("why-page0", "0x2", "page 0", absent=("to manage",))
row = in_row(ours, 0x900000)
check(row and row[5] == "after-exit", f"premise: 0x900000 is not boot memory in this map: {row}")
one_message("why-withheld", "0x2", "0x900000", "withheld", "until exit", absent=("to manage",))
meta_addr = sfo_rows("stats-sfo-1", "PmmMetadata")[0][0]
check(f"meta={meta_addr}" in sec("why-meta"), f"premise: parse did not give the metadata address {meta_addr}")
one_message("why-meta", "0x2", f"0x{meta_addr}", "the allocator's own metadata", absent=("to manage",))
row = in_row(ours, 0x806000)
check(row and row[5] == "never", f"premise: 0x806000 is not reserved in this map: {row}")
one_message("why-never", "0x2", "0x806000", row[0] if row else "?", absent=("to manage",))
check(not in_row(mem, 0xA0000), "premise: 0xA0000 is not a hole in this map")
one_message("why-hole", "0x2", "0xA0000", "no memory", absent=("to manage",))
one_message("why-past", "0x2", "starts past", absent=("ends past",))

# --- a run with one page already free: the refusal names that page
check(statuses("run-free") == ["0x0", "0x2", "0x0", "0x0"], f"run-free: {statuses('run-free')}")
check(re.search(r"refused: page 0x2000 is already free", sec("run-free")),
      "freeing 0x1000-0x3FFF with 0x2000 already free does not name 0x2000")

# --- alloc, a second load, ref, free of a shared page, free
m = re.search(r"allocated 16 pages at (0x[0-9A-F]+)", sec("alloc"))
check(m and statuses("alloc") == ["0x0"], "pmm alloc 16 failed")
if m:
    a = int(m.group(1), 16)
    check(a % 0x10000 == 0 and a + 16 * 4096 <= 16 << 20, f"alloc at {a:#x} breaks -align 64K -below 16M")
    check((last("alloc") or "").lower() == m.group(1).lower(), "%pmm_last% not set to the address")
check(s2.get("alloc") == s1.get("alloc", 0) + 16 and s2.get("free") == s1.get("free", 0) - 16,
      "the allocation does not show in the next stats")
reload = sec("reload")
check("already loaded" in reload and statuses("reload") not in (["0x0"], []),
      f"a second load of pmmcmd.efi must say the command is there and fail: {reload!r}")
check(summary("stats-sfo-reload") == s2, "after the second load, pmm is not the same driver")
one_message("ref", "0x0", "now has 2 references")
one_message("free-shared", "0x2", "has 2 references", f"`pmm ref {last('alloc')} -`",
            absent=("pmm_ref_dec",))
one_message("unref", "0x0", "now has 1 reference")
one_message("free", "0x0", "freed 16 pages")
check(summary("stats-sfo-freed") == s1, "free did not take the allocation back")

# --- out of memory: one message with the numbers, one status, %pmm_last% cleared
for name, want in (("oom-range", "1099511627776 pages"), ("oom-run", "120000 pages"),
                   ("oom-below", "600 pages")):
    body = sec(name)
    check(re.search(r"\d+ pages free, largest free run \d+ pages", body), f"{name}: no free/largest figures")
    one_message(name, "0x9", "out of memory", want + " requested")
    check(last(name) == "", f"{name}: %pmm_last% still holds {last(name)!r} after a failed alloc")
check("below 0x200000" in sec("oom-below"), "oom-below: the limit is not in the message")
check(last("alloc-one") not in ("", None), "pmm alloc 1 did not set %pmm_last%")
syntax_error("free-empty-last", "free", "missing")
check("0x" not in sec("free-empty-last").split("usage:")[0], "pmm free with no address listed ranges")

# --- syntax errors: the subcommand's line, nothing changed
one_message("bad-sub", "0x2", "unknown subcommand: bogus")
check(BRIEF.lower() not in sec("bad-sub").lower(), "bad-sub: the whole manual")
syntax_error("bad-alloc-missing", "alloc", "missing")
syntax_error("bad-alloc-zero", "alloc", "0: must not be 0")
syntax_error("bad-align-3", "alloc", "3: not a power of two")
syntax_error("bad-align-0", "alloc", "0: must not be 0")
syntax_error("bad-below-0", "alloc", "0: must not be 0")
syntax_error("bad-below-suffix", "alloc", "M: not a number")
syntax_error("bad-count-overflow", "alloc", "99999999999999999999: too large", "64 bits")
check("above 0" not in sec("bad-count-overflow"), "an overflowing count is called 0")
# a count no machine could hold is refused with the limit named, printed unsigned, never -1
syntax_error("bad-count-huge", "alloc", "0xFFFFFFFFFFFFFFFF", "2^40")
check("-1" not in sec("bad-count-huge") and last("bad-count-huge") == "", "pmm alloc 2^64-1: -1 or %pmm_last% set")
syntax_error("bad-count-bytes", "alloc", "6K", "4K")
# a bad argument is echoed as a bounded prefix, so the line fits
for name in ("bad-long", "bad-long-sub"):
    body = sec(name)
    check(statuses(name) == ["0x2"], f"{name}: status {statuses(name)}")
    check("1234567890123456789012345678901234567890" not in body and "mnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz" not in body,
          f"{name}: echoes the whole bad argument")
    check(re.search(r"12345678901234567890|abcdefghijklmnopqrst", body), f"{name}: does not show the argument")
    fits_80(name, body)
syntax_error("bad-option", "alloc", "-sideways: unknown option")
syntax_error("bad-free-unaligned", "free", "0x1001: not a multiple of 4K")
syntax_error("bad-free-wrap", "free", "17", "2^64")
check("-1 page" not in sec("bad-free-wrap"), "pmm free 0x1000 0xFFFFFFFFFFFFFFFF prints -1 pages")
one_message("bad-ref-notowned", "0x2", "0x0 refused", "page 0")
one_message("bad-ref-free", "0x2", "0x2000 refused: the page is free", absent=("double free",))
syntax_error("bad-ref-sign", "ref", "*: want + (share) or - (release)")
syntax_error("bad-sfo", "picture", "-sfo: not supported")
syntax_error("bad-extra", "check", "now: one argument too many")
syntax_error("bad-save", "save", "missing")
check(s4 == s3, f"a refused command changed the allocator: {s3} -> {s4}")

# --- errors and usage go to standard error: a redirected standard output gets none of them
check(statuses("err-redirect") == ["0x2", "0x2", "0x9"], f"err-redirect: {statuses('err-redirect')}")
for f, what in (("pf.txt", "pmm free -sfo > pf.txt"), ("oom.txt", "pmm alloc 120000 > oom.txt")):
    body = readfile(f, "utf-16").lstrip("\ufeff").strip()
    check(body == "", f"{what}: the error went to standard output: {body!r}")
check("-sfo: not supported" in sec("err-redirect") and "usage: pmm free" in sec("err-redirect"),
      "pmm free -sfo > file: the error is not on the console")
check("out of memory" in sec("err-redirect"), "pmm alloc 120000 > file: the error is not on the console")
check("unknown subcommand: bogus" in readfile("err.txt", "utf-16"), "pmm bogus 2> err.txt: the file has no error")

check("check ok" in sec("check") and statuses("check") == ["0x0"], "pmm check failed")
paged = sec("paged")
check("Press ENTER to continue or 'Q' break" in paged, "pmm map -b does not use the shell's page break")
check("-- more" not in paged and statuses("paged") == ["0x0"], "pmm map -b: own prompt or failed")

# --- save: writes, refuses to replace without -f, replaces with it, keeps the old file on failure
saved = readfile("pmmmap.txt", "ascii")
check(statuses("save") == ["0x0"] and "saved" in sec("save"), "pmm save failed")
check(abs(saved.count("efi: mem") - len(ours)) <= 3, "saved map has a different number of descriptors")
check(statuses("save-exists") == ["0xF", "0xF"], f"save over existing files: {statuses('save-exists')}")
check("fs0:\\pmmmap.txt exists; `pmm save -f fs0:\\pmmmap.txt` replaces it" in sec("save-exists"),
      "pmm save onto an existing file does not say so")
here = os.path.dirname(__file__)
check(readfile("startup.nsh", "ascii").replace("\r", "") == open(os.path.join(here, "shell.nsh")).read(),
      "pmm save replaced startup.nsh")
one_message("save-replace", "0x0", "saved")
one_message("save-full", "0x7", "cannot write", "volume full", "the old file is unchanged")
check(readfile("old.txt", "ascii") == "the file a failed save must keep\n",
      "a failed pmm save -f lost the old file")
check("fs1:\\old.txt:" in sec("save-full") and ".new" not in sec("save-full").lower(),
      "save-full: the message does not name the user's file, or names the temporary one")
# a directory is refused before anything is written, and -f does not change that
check(statuses("save-dir") == ["0xF", "0xF"], f"save onto a directory: {statuses('save-dir')}")
check(sec("save-dir").count("fs0:\\EFI is a directory") == 2 and "replaces it" not in sec("save-dir"),
      f"save onto a directory: does not say it is one, or advises -f: {sec('save-dir')!r}")
root = readfile("root.dir", "ascii")
check(not re.search(r"EFI\.new|^EFI\s+NEW\s", root, re.I | re.M), f"a refused save left EFI.new: {root}")
one_message("save-novol", "0x7", "cannot write fs9:\\x.txt:", absent=("x.txt.new",))
# FILE.new is where save writes first; one the user made is theirs: refused, left alone
one_message("save-tmp-exists", "0xF", "fs0:\\keep.txt.new exists")
check(readfile("keep.txt.new", "utf-16").lstrip("\ufeff").strip() == "kept by the user",
      "pmm save took the user's keep.txt.new")
check(not os.path.exists(os.path.join(files, "keep.txt")), "a refused pmm save wrote keep.txt")
# what save wrote is what memmap shows right after: no buffer of its own that is gone by then
names = {1: "LoaderCode", 2: "LoaderData"}
after_save = {(r[0], int(r[1], 16), int(r[2], 16) + 1) for r in sfo_rows("save-memmap", "MemoryMap")}
lines = re.findall(r"type=(\d+), attr=0x[0-9A-F]+, range=\[0x([0-9A-F]+)-0x([0-9A-F]+)\)", saved, re.I)
check(len(lines) == saved.count("efi: mem") > 0, "pmmmap.txt: lines not in the efi=debug format")
for t, a, b in lines:
    if int(t) in names:
        check((names[int(t)], int(a, 16), int(b, 16)) in after_save,
              f"pmm save wrote {names[int(t)]} [{a}-{b}) that memmap right after does not show")
check("OLD.NEW" not in readfile("full.dir", "ascii").upper().replace(" ", "."),
      "a failed pmm save left its temporary file")

# --- the application
app = statuses("app")
check(app == ["0x0", "0x2"] and "pmm: total=" in sec("app"), f"pmm.efi as an application: {app}")
check("allocator built from the firmware's map" in sec("app"), "pmm.efi: no build line")
summary("app-sfo")  # starts with ShellCommand: the build line stays out of -sfo
# pmm.efi: the descriptor count of the map it built from is one figure, said the same way twice
b = re.search(r"allocator built from the firmware's map \((\d+) descriptors\)", sec("app"))
w = re.search(r"the map it was built from:\s+(\d+)\s+descriptors", sec("app"))
check(b and w and b.group(1) == w.group(1), f"pmm.efi stats: build line {b and b.group(1)}, "
      f"stats {w and w.group(1)}")
am = sec("app-map")
check("built from" not in am, "pmm.efi map builds an allocator it does not show")
foot = re.search(r"^(\d+) descriptors;", am, re.M)
rows = [l for l in am.splitlines() if re.match(r"\w+ +[0-9A-F]{12}-", l)]
check(foot and int(foot.group(1)) == len(rows), f"pmm.efi map: footer {foot and foot.group(1)}, {len(rows)} rows")
img = re.search(r"pmm.efi itself: 0x([0-9A-F]+)-0x([0-9A-F]+), freed when it returns", am)
check(img and any(l.startswith("LoaderCode") and int(l.split()[1].split("-")[0], 16) <= int(img.group(1), 16)
                  and int(img.group(2), 16) <= int(l.split()[1].split("-")[1], 16) for l in rows),
      "pmm.efi map: does not name its own image, or not inside a LoaderCode row")
fits_80("app-map", am)
# pmm.efi's allocator ends with it: it leaves %pmm_last% (the driver's) alone and says so
before = re.search(r"before=(\S*)", sec("app-alloc"))
check(before and before.group(1) and last("app-alloc") == before.group(1),
      f"pmm.efi alloc changed %pmm_last%: {before and before.group(1)} -> {last('app-alloc')}")
check("%pmm_last% =" not in sec("app-alloc").split("before=")[1] and "pmm.efi" in sec("app-alloc"),
      "pmm.efi alloc: reports %pmm_last% or does not say its allocator ends with it")
# a count with a unit is bytes: 4K is one page
check(statuses("alloc-unit") == ["0x0", "0x0"] and "allocated 1 page at" in sec("alloc-unit")
      and "freed 1 page at" in sec("alloc-unit"), f"pmm alloc 4K: {sec('alloc-unit')!r}")
check("allocated 3 pages" in sec("keep"), "pmm alloc 3 failed")

# --- every line the command prints fits 80 columns (the shell's own listings and the kernel's
# boot log aside; -sfo is for scripts)
for name in sections:
    if "sfo" not in name and name not in ("memmap-after", "save-memmap", "help-list", "boot"):
        fits_80(name, sec(name))

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    print("---- shell log ----")
    print(text)
    sys.exit(1)
print(f"pmm shell command: {len(sections)} sections ok; {len(ours)} descriptors agree with memmap; "
      f"kernel PASS after pmm boot")
