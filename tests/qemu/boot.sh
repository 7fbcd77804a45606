#!/bin/sh
# boot.sh MEM SMP MACHINE FW [IMAGE [usb]] - boot the image (as a USB stick with "usb") under OVMF
# and check what the kernel reports. CPU_SOURCE=madt: the image's loader lists CPUs from the MADT.
#
# Passes when: QEMU exits 33 (the kernel wrote PASS to isa-debug-exit); the log shows the verdict,
# a clean pmm_check and no page lost; the final memory map the kernel received (it prints it),
# read here by tests/memmaps_expect.py, has exactly the allocator's total of usable pages, and
# after the self-test free = usable - page 0 - metadata - allocated; total <= RAM.
# The whole boot log is printed when anything fails.
set -u
mem=$1 smp=$2 machine=$3 fw=$4 image=${5:-build/esp.img} how=${6:-disk}
usb=
[ "$how" = usb ] && usb=--usb
log=$(mktemp)
trap 'rm -f "$log"' EXIT
ovmf/run.sh --mem "$mem" --smp "$smp" --machine "$machine" --fw "$fw" --image "$image" $usb \
    --timeout 600 --log "$log" >/dev/null 2>&1
rc=$?
fail() {
    echo "boot $mem smp=$smp $machine OVMF $fw: $*"
    echo "---- boot log (exit status $rc) ----"
    tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g'
    exit 1
}
[ "$rc" = 33 ] || fail "QEMU exited $rc, want 33 (kernel PASS)"
case $fw in
*snakeoil*)
    grep -q "loader: Secure Boot: .* matches the BLAKE2b enrolled in this loader" "$log" ||
        fail "the signed loader did not check limine.conf against its enrolled hash"
    ;;
esac
if [ "$how" = usb ]; then
    grep -q "BdsDxe: starting Boot.*USB" "$log" || fail "the firmware did not boot from the USB stick"
    sgdisk -p "$image" | grep -q "EF00" || fail "$image has no EFI System Partition in a GPT"
fi
grep -q "kernel: verdict: PASS" "$log" || fail "no PASS verdict"
grep -q "loader: firmware watchdog off" "$log" || fail "the loader did not disable the watchdog"
grep -q "pmm_check ok" "$log" || fail "kernel's pmm_check did not pass"
# QEMU was given $smp CPUs, the first (APIC ID 0) boots: the firmware's list, the ACPI MADT and
# the list the kernel received must all say so. CPU_SOURCE=madt: a loader without MP services.
cpus="$smp CPUs"
[ "$smp" = 1 ] && cpus="1 CPU"
text=$(tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g')
if [ "${CPU_SOURCE:-mp}" = madt ]; then
    source="ACPI MADT"
    echo "$text" | grep -q "^loader: $cpus (ACPI MADT; no MP services protocol), BSP APIC ID 0$" ||
        fail "the loader did not find the $smp CPUs in the MADT"
else
    source="MP services"
    echo "$text" |
        grep -q "^loader: $cpus (MP services), BSP APIC ID 0; the ACPI MADT lists the same $smp$" ||
        fail "the loader did not find the $smp CPUs in both MP services and the MADT"
fi
echo "$text" | grep -q "^kernel: the loader lists $cpus ($source), BSP APIC ID 0$" ||
    fail "the kernel did not receive a list of $smp CPUs from $source"
line=$(grep -a "^pmm: total=" "$log" | tail -n 1 | tr -d '\r')
[ -n "$line" ] || fail "no summary line"
get() { echo "$line" | sed -n "s/.* $1=\([0-9]*\).*/\1/p;s/^pmm: $1=\([0-9]*\).*/\1/p" | head -n 1; }
total=$(get total) free=$(get free) meta=$(get meta) alloc=$(get alloc)
# The map the loader handed over, as the kernel printed it, read by the test's own reader: its
# usable pages must be the allocator's total, and must be what the kernel counted; after the
# self-test everything usable is free but for page 0, the metadata and what is still allocated.
tr -d '\r' <"$log" | grep -a "^kernel: map: mem" >"$log.map"
[ -s "$log.map" ] || fail "the kernel printed no memory map"
expect=$(python3 tests/memmaps_expect.py "$log.map") || fail "cannot read the printed map"
rm -f "$log.map"
mget() { echo "$expect" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
usable=$(mget total) page0=$(mget page0_usable)
[ "$usable" = "$total" ] || fail "the map has $usable usable pages, the allocator's total is $total"
counted=$(sed -n 's/.*selftest: map: \([0-9]*\) usable pages.*/\1/p' "$log" | head -n 1)
[ "$counted" = "$usable" ] || fail "the kernel counted $counted usable pages in the map, not $usable"
[ "$free" = $((usable - page0 - meta - alloc)) ] ||
    fail "free $free, want usable $usable - page 0 ($page0) - meta $meta - allocated $alloc"
ram=$(numfmt --from=iec "$mem")
have=$((total * 4096))
[ "$have" -le "$ram" ] || fail "total $have bytes exceeds RAM $ram"
before=$(sed -n 's/.*free pages before \([0-9]*\), after \([0-9]*\).*/\1/p' "$log")
after=$(sed -n 's/.*free pages before \([0-9]*\), after \([0-9]*\).*/\2/p' "$log")
[ -n "$before" ] && [ "$before" = "$after" ] || fail "pages lost in the self-test: $before -> $after"
echo "$mem smp=$smp $machine OVMF-$fw $how: total=$total pages ($((have >> 20)) MiB of $((ram >> 20))) free=$free"
