#!/bin/sh
# hold.sh - a kernel whose live-allocator request asks to hold boot memory
# (PMM_REQUEST_HOLD_BOOT_MEMORY; build/esp-hold.img) must receive the allocator with
# boot-services memory withheld (more than page 0 withheld at adoption), release it itself, end
# with only page 0 withheld, and pass its self-test.
set -u
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ovmf/run.sh --image build/esp-hold.img --timeout 120 --log "$log" >/dev/null 2>&1
rc=$?
clean=$(tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g')
fail() {
    echo "$*"
    echo "---- boot log (exit status $rc) ----"
    echo "$clean"
    exit 1
}
[ "$rc" = 33 ] || fail "QEMU exited $rc, want 33"
held=$(echo "$clean" | grep -A1 "adopted the allocator" | sed -n 's/^pmm: .* withheld=\([0-9]*\) .*/\1/p')
released=$(echo "$clean" | sed -n 's/^kernel: released \([0-9]*\) pages.*/\1/p')
last=$(echo "$clean" | grep "^pmm: total=" | tail -n 1 | sed -n 's/.* withheld=\([0-9]*\) .*/\1/p')
[ -n "$held" ] && [ "$held" -gt 1 ] || fail "nothing was withheld at adoption (withheld=$held)"
[ -n "$released" ] && [ "$released" = $((held - 1)) ] || fail "released $released pages, want $((held - 1))"
[ "$last" = 1 ] || fail "after the release withheld=$last, want 1 (page 0)"
echo "held $((held - 1)) pages of boot memory until the kernel released them; PASS"
