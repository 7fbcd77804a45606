#!/usr/bin/env python3
"""limine-conf.py OUT [--hash] [--cmdline TEXT] KERNEL=VOLPATH [--module FILE=VOLPATH[=CMDLINE]]...

Write a limine.conf with one entry that boots KERNEL (the local file, found on the boot volume at
VOLPATH) with the Limine protocol, and its modules. With --hash every path carries the file's
BLAKE2b-512 (`boot():/path#hash`), as Secure Boot needs: tools/sign.sh then enrolls the hash of
the configuration itself into the signed loader.
"""
import hashlib
import sys


def path(local, vol, hashed):
    if not vol.startswith("/"):
        sys.exit(f"limine-conf.py: {vol}: a volume path starts with /")
    h = "#" + hashlib.blake2b(open(local, "rb").read()).hexdigest() if hashed else ""
    return f"boot():{vol}{h}"


def write(argv):
    out, args = argv[1], argv[2:]
    hashed, cmdline, kernel, modules = False, "", None, []
    it = iter(args)
    for a in it:
        if a == "--hash":
            hashed = True
        elif a == "--cmdline":
            cmdline = next(it)
        elif a == "--module":
            modules.append(next(it).split("=", 2))
        else:
            kernel = a.split("=", 1)
    if not kernel or len(kernel) != 2:
        sys.exit(__doc__)
    lines = ["# limine.conf written by tools/limine-conf.py", "timeout: 0", "",
             "/uefi-pmm", "    protocol: limine", "    path: " + path(*kernel, hashed)]
    if cmdline:
        lines.append("    cmdline: " + cmdline)
    for m in modules:
        lines.append("    module_path: " + path(m[0], m[1], hashed))
        if len(m) > 2 and m[2]:
            lines.append("    module_cmdline: " + m[2])
    open(out, "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    write(sys.argv)
