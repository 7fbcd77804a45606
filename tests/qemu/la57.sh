#!/bin/sh
# la57.sh - a CPU that has 5-level paging (-cpu max,+la57) still boots: the firmware (Debian's
# OVMF) keeps 4-level paging, the loader checks CR4.LA57 before ExitBootServices, says which mode
# it found, and the kernel reaches PASS (QEMU exit status 33). The refusal under LA57 itself is
# tested on the host (test_preflight: paging_mode).
set -u
cd "$(dirname "$0")/../.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ovmf/run.sh --mem 512M --image build/esp.img --timeout 300 --log "$log" -- -cpu max,+la57 \
    >/dev/null 2>&1
rc=$?
fail() {
    echo "-cpu max,+la57: $*"
    echo "---- boot log (exit status $rc) ----"
    tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g'
    exit 1
}
[ "$rc" = 33 ] || fail "QEMU exited $rc, want 33 (kernel PASS)"
grep -q "loader: 4-level paging (CR4.LA57 clear), HHDM at" "$log" || fail "the loader did not check the paging mode"
grep -q "kernel: verdict: PASS" "$log" || fail "no PASS verdict"
echo "-cpu max,+la57 (OVMF in 4-level paging): loader checked CR4.LA57, kernel PASS"
