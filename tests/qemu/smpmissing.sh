#!/bin/sh
# smpmissing.sh - CPUs that never come up are reported by APIC ID and the run goes on without
# them. build/esp-smpmissing.img's kernel (PMM_SMP_TEST_MISSING in smp.c), booted with 4 CPUs,
# sends the last CPU's INIT and STARTUPs to APIC ID 240, which no CPU has, and gives CPU 2 start-up
# parameters meant for another CPU, which the trampoline must refuse and park on. Passes when:
# QEMU exits 33 (the kernel's PASS: the self-test ran on the CPUs that came up); both are
# reported, each with its APIC ID and the reason; the self-test ran on 2 CPUs with a clean
# pmm_check; and the verdict says 2 of 4 CPUs took part.
set -u
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ovmf/run.sh --smp 4 --image build/esp-smpmissing.img --timeout 300 --log "$log" >/dev/null 2>&1
rc=$?
. tests/qemu/bootlog.sh
boot_log "$log" "$rc" "smp=4, two CPUs missing"
[ "$rc" = 33 ] || fail "QEMU exited $rc, want 33 (kernel PASS)"
has "^kernel: smp: CPU 2 (APIC ID 2) did not come up: it ran the start-up code, found parameters meant for another CPU and parked; going on without it$" ||
    fail "CPU 2 was not reported as parked by the trampoline"
has "^kernel: smp: CPU 3 (APIC ID 240) did not come up: it did not answer within 2000 ms of its STARTUP; going on without it$" ||
    fail "the CPU with APIC ID 240 was not reported"
has "^kernel: smp: 1 of 3 APs up" || fail "want 1 of 3 APs up"
has "^kernel: smp selftest: 2 CPUs at once, .*; 0 cached; pmm_check ok$" || fail "no clean self-test on 2 CPUs"
has "^kernel: 2 of 4 CPUs took part$" || fail "want 2 of 4 CPUs took part"
has "^kernel: verdict: PASS$" || fail "no PASS verdict"
echo "$text" | grep "did not come up" | sed 's/^kernel: smp: //; s/; going on without it//'
