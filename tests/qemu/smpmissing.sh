#!/bin/sh
# smpmissing.sh - CPUs that never come up are reported by APIC ID and the run goes on without
# them. build/esp-smpmissing.img's loader (PMM_TEST_MISSING_CPUS in efi/limine/mp.c), booted with
# 4 CPUs, sends the last CPU's INIT and STARTUPs to APIC ID 240, which no CPU has, and leaves CPU 2
# out of the start-up slot table, so it wakes, finds no slot and halts. Passes when: QEMU exits 33
# (the kernel's PASS: the self-test ran on the CPUs that came up); both are reported by the loader
# with their APIC IDs; the MP response the kernel gets lists the 2 that parked; the self-test ran
# on 2 CPUs with a clean pmm_check; and the verdict says 2 of 4 CPUs took part.
set -u
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ovmf/run.sh --smp 4 --image build/esp-smpmissing.img --timeout 300 --log "$log" >/dev/null 2>&1
rc=$?
. tests/qemu/bootlog.sh
boot_log "$log" "$rc" "smp=4, two CPUs missing"
[ "$rc" = 33 ] || fail "QEMU exited $rc, want 33 (kernel PASS)"
has "^loader: CPU 2 (APIC ID 2) did not come up; the kernel gets the others$" ||
    fail "CPU 2, which found no start-up slot, was not reported"
has "^loader: CPU 3 (APIC ID 240) did not come up; the kernel gets the others$" ||
    fail "the CPU with APIC ID 240 was not reported"
has "^kernel: smp: 2 CPUs parked by the loader" || fail "the MP response does not list the 2 that parked"
has "^kernel: smp: 2 of 4 CPUs up" || fail "want 2 of 4 CPUs up"
has "^kernel: smp selftest: 2 CPUs at once, .*; 0 cached; pmm_check ok$" || fail "no clean self-test on 2 CPUs"
has "^kernel: 2 of 4 CPUs took part$" || fail "want 2 of 4 CPUs took part"
has "^kernel: verdict: PASS$" || fail "no PASS verdict"
echo "$text" | grep "did not come up" | sed 's/^loader: //; s/; the kernel gets the others//'
