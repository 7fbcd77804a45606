#!/bin/sh
# fault.sh - a kernel that touches memory its page tables no longer map must report the page
# fault (vector, error code, RIP, CR2) and fail the run with status 35, not hang or reboot.
set -u
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ovmf/run.sh --image build/esp-fault.img --timeout 120 --log "$log" >/dev/null 2>&1
rc=$?
line=$(grep -a "kernel: exception" "$log" | tr -d '\r')
if [ "$rc" != 35 ] || ! echo "$line" | grep -q "exception 14 (page fault) error=0x0 rip=0xffffffff8.* cr2=0x0000000000001000" ||
    ! grep -q "verdict: FAIL" "$log"; then
    echo "want exit 35 and a page-fault report with cr2=0x1000; got exit $rc"
    tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g'
    exit 1
fi
echo "$line"
