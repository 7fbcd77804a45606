#!/bin/sh
# topology.sh - the loader's CPU topology line against QEMU's -smp topology: 2 sockets of 2 cores
# of 2 threads must read as 2 packages, 4 cores, 8 threads, from MP services' extended location
# (PI 1.7, CPU_V2_EXTENDED_TOPOLOGY, which Debian's OVMF answers). Each package has one die: QEMU's
# dies= is not asserted, as OVMF 2022.11 reports die 0 for every CPU (it counts them as cores).
set -u
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ovmf/run.sh --mem 512M --smp 8,sockets=2,cores=2,threads=2 --timeout 300 --log "$log" \
    >/dev/null 2>&1
rc=$?
. tests/qemu/bootlog.sh
boot_log "$log" "$rc" "topology 2x2x2"
[ "$rc" = 33 ] || fail "QEMU exited $rc, want 33 (kernel PASS)"
has "^loader: 8 CPUs (MP services), BSP APIC ID 0; the ACPI MADT lists the same 8$" ||
    fail "the loader did not list 8 CPUs"
line="loader: topology: 2 packages, 2 dies, 4 cores, 8 threads (MP services, extended location)"
has "^$line$" || fail "no line '$line'"
echo "$line"
