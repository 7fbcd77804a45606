#!/bin/sh
# wx.sh - W^X in the kernel's own page tables: a kernel that writes to its text, and one that
# calls code it wrote into the direct map, must each report a page fault (the error code says
# which: 0x3 = write to a present page, 0x11 = instruction fetch from a present page) at the
# address it touched, and fail the run with status 35. A boot of the normal kernel reports W^X on.
set -u
cd "$(dirname "$0")/../.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
check() { # image, error code, what the kernel says before the fault
    ovmf/run.sh --image "$1" --timeout 120 --log "$log" >/dev/null 2>&1
    rc=$?
    addr=$(tr -d '\r' <"$log" | sed -n "s/.*$3 \(at \)*0x\([0-9a-f]*\).*/\2/p" | head -n 1)
    line=$(grep -a "kernel: exception" "$log" | tr -d '\r')
    if [ "$rc" != 35 ] || [ -z "$addr" ] ||
        ! echo "$line" | grep -q "exception 14 (page fault) error=$2 .*cr2=0x0*$addr " ||
        ! grep -q "W^X: text read-execute.*EFER.NXE on" "$log"; then
        echo "$1: want exit 35 and a page fault error=$2 at the address the kernel names; got exit $rc"
        tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g'
        exit 1
    fi
    echo "$1: $line"
}
check build/esp-wxtext.img 0x3 "writing to its own text at"
check build/esp-wxexec.img 0x11 "calling a ret at"
