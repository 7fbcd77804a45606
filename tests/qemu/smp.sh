#!/bin/sh
# smp.sh MACHINE SMP [MEM] - boot with SMP CPUs and check that the kernel started every one of
# them and that all of them took part in the allocator's self-test at once. TIMEOUT: seconds QEMU
# may run (300).
#
# QEMU is told -smp SMP, so the test knows independently how many CPUs there are and their APIC
# IDs (0 .. SMP-1: QEMU's default topology, one core per socket). Passes when: QEMU exits 33 (the
# kernel's PASS); the kernel received SMP CPUs, started the SMP-1 APs, each with its own APIC ID;
# every CPU printed its self-test line with operations, at least 3 rounds, pages another CPU
# allocated freed and shared pages another CPU ref_inc'ed ref_dec'ed (with more than one CPU),
# and no failure; the run's summary says SMP CPUs, free pages before = after, no page left on a
# cache, pmm_check ok; "SMP of SMP CPUs took part"; and QEMU ran the vCPUs as SMP host threads
# (multi-threaded TCG, counted from QEMU's thread names while it runs).
#
# ovmf/run.sh asks for -accel tcg, which QEMU 7.2 runs multi-threaded for an x86_64 guest on an
# x86_64 host (thread=multi is its default there; a second -accel would be ignored: QEMU takes
# the first accelerator given), hence the thread count rather than a flag.
set -u
machine=$1 smp=$2 mem=${3:-512M}
image=${IMAGE:-build/esp.img}
log=$(mktemp)
name=uefi-pmm-smp-$$
trap 'rm -f "$log"' EXIT
ovmf/run.sh --mem "$mem" --smp "$smp" --machine "$machine" --image "$image" --timeout "${TIMEOUT:-300}" \
    --log "$log" -- -name "$name,debug-threads=on" >/dev/null 2>&1 &
runner=$!
threads=0 i=0
while [ "$threads" != "$smp" ] && [ $i -lt 600 ] && kill -0 "$runner" 2>/dev/null; do
    for q in $(pgrep -f -- "-name $name,"); do
        [ "$(cat "/proc/$q/comm" 2>/dev/null)" = qemu-system-x86 ] || continue
        threads=$(cat /proc/"$q"/task/*/comm 2>/dev/null | grep -c '^CPU [0-9]*/TCG$')
    done
    sleep 0.1
    i=$((i + 1))
done
wait "$runner"
rc=$?
. tests/qemu/bootlog.sh
boot_log "$log" "$rc" "smp=$smp $machine $mem"
[ "$rc" = 33 ] || fail "QEMU exited $rc, want 33 (kernel PASS)"
[ "$threads" = "$smp" ] || fail "QEMU ran $threads vCPU threads, want $smp (multi-threaded TCG)"
has "^kernel: verdict: PASS$" || fail "no PASS verdict"
cpus="$smp CPUs"
[ "$smp" = 1 ] && cpus="1 CPU"
has "^kernel: the loader lists $cpus (MP services), BSP APIC ID 0$" || fail "the kernel did not receive $cpus"
if [ "$smp" -gt 1 ]; then
    has "^kernel: smp: $smp of $smp CPUs up in [0-9]* ms (released through goto_address)" || fail "not every AP came up"
fi
i=1
while [ $i -lt "$smp" ]; do
    has "^kernel: smp: CPU $i APIC ID $i up [0-9]* us after its release" || fail "CPU $i (APIC ID $i) did not come up"
    i=$((i + 1))
done
i=0
while [ $i -lt "$smp" ]; do
    line=$(echo "$text" | grep "^kernel: smp selftest: CPU $i (APIC ID $i): ")
    [ -n "$line" ] || fail "CPU $i printed no self-test line"
    num() { echo "$line" | sed -n "s/.* \([0-9]*\) $1.*/\1/p"; }
    ops=$(num "operations,") rounds=$(num "rounds in") freed=$(num "pages from CPU") \
        deced=$(num "of its shared pages") failures=$(num "failures")
    [ "${ops:-0}" -gt 0 ] && [ "${rounds:-0}" -ge 3 ] && [ "$failures" = 0 ] ||
        fail "CPU $i: $ops operations, $rounds rounds, $failures failures"
    if [ "$smp" -gt 1 ]; then
        [ "${freed:-0}" -gt 0 ] && [ "${deced:-0}" -gt 0 ] ||
            fail "CPU $i freed $freed pages and ref_dec'ed $deced shared pages of another CPU"
    fi
    i=$((i + 1))
done
sum=$(echo "$text" | grep "^kernel: smp selftest: $cpus at once, ")
[ -n "$sum" ] || fail "no summary of the self-test on $smp CPUs"
before=$(echo "$sum" | sed -n 's/.*free pages before \([0-9]*\), after \([0-9]*\);.*/\1/p')
after=$(echo "$sum" | sed -n 's/.*free pages before \([0-9]*\), after \([0-9]*\);.*/\2/p')
[ -n "$before" ] && [ "$before" = "$after" ] || fail "free pages before $before, after $after"
echo "$sum" | grep -q "; 0 cached; pmm_check ok$" || fail "pages left on a cache, or pmm_check failed"
has "^kernel: $smp of $smp CPUs took part$" || fail "not all $smp CPUs took part"
echo "smp=$smp $machine $mem: $threads vCPU threads; $(echo "$sum" | sed 's/^kernel: smp selftest: //; s/; free pages.*//')"
