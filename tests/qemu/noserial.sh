#!/bin/sh
# noserial.sh - no serial port at all, as on most PCs: the loader and the kernel must not depend on
# one (the kernel's writes to COM1 give up instead of waiting), so the run still ends with the
# kernel's PASS on the isa-debug-exit port (QEMU status 33), with a display adapter for its report.
set -u
ovmf/run.sh --no-serial --vga --timeout 120 >/dev/null 2>&1
rc=$?
[ "$rc" = 33 ] || { echo "without a serial port QEMU exited $rc, want 33"; exit 1; }
echo "no serial port: PASS (status 33)"
