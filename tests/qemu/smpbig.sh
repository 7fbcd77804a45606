#!/bin/sh
# smpbig.sh [SMP...] - the extended SMP test, not part of `make test`: boot with many vCPUs (32
# and 64 by default) and run tests/qemu/smp.sh's checks on each (every CPU started, all in the
# self-test at once), timing each boot from QEMU's start to its exit. Ends with one line per
# size, "smp=N: PASS in S s" or the failure, and fails if any did.
#
# Takes /tmp/uefi-pmm-qemu.lock (the QEMU suites share the machine) for the whole series, so
# the times do not include waiting for it.
set -u
cd "$(dirname "$0")/../.."
[ -n "${SMPBIG_LOCKED:-}" ] || exec env SMPBIG_LOCKED=1 flock /tmp/uefi-pmm-qemu.lock "$0" "$@"
[ $# -gt 0 ] || set -- 32 64
status=0 summary=
mkdir -p build
for n in "$@"; do
    t0=$(date +%s.%N)
    # TCG runs n vCPU threads on this host's cores: allow QEMU 20 s per vCPU
    if TIMEOUT=$((300 + 20 * n)) tests/qemu/smp.sh q35 "$n" 2G >"build/smpbig-$n.log" 2>&1; then
        verdict=PASS
    else
        verdict="FAIL (build/smpbig-$n.log)"
        status=1
    fi
    t1=$(date +%s.%N)
    s=$(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}')
    tail -n 1 "build/smpbig-$n.log"
    summary="$summary
smp=$n: $verdict in $s s"
done
echo "$summary" | sed '/^$/d'
exit $status
