#!/bin/sh
# badresponse.sh - a loader whose Executable Address response puts the kernel inside the direct map
# (build/esp-badexec.img): the kernel must refuse it at entry, naming the field, before it uses
# anything, and fail the run through isa-debug-exit (QEMU exit status 35, verdict FAIL).
set -u
cd "$(dirname "$0")/../.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ovmf/run.sh --mem 512M --image build/esp-badexec.img --timeout 300 --log "$log" >/dev/null 2>&1
rc=$?
text=$(tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g')
fail() {
    echo "badresponse.sh: $*"
    echo "---- boot log (exit status $rc) ----"
    echo "$text"
    exit 1
}
[ "$rc" = 35 ] || fail "QEMU exited $rc, want 35 (the kernel's FAIL)"
line=$(echo "$text" | grep "Limine response refused: executable_address.virtual_base: ")
[ -n "$line" ] || fail "no refusal naming executable_address.virtual_base"
echo "$text" | grep -q "^kernel: verdict: FAIL" || fail "no FAIL verdict"
echo "$text" | grep -q "^kernel: started" && fail "the kernel went on past the refusal"
echo "$line"
