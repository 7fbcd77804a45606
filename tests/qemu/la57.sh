#!/bin/sh
# la57.sh CASE - paging modes, read from the guest's own lines and QEMU's exit status (33: the
# kernel's PASS). Debian's OVMF runs 4-level paging on every CPU, so each 5-level boot is one the
# loader (or the kernel) switched. Under TCG, -cpu max has LA57; -la57 takes it away.
#
#   5level   -cpu max,+la57: the loader gives the 5-level the kernel asks for, the kernel runs it
#   4level   -cpu max,-la57: 4-level on both sides
#   1t       a 1 TiB guest (reserve=off backend, phys-bits=46) in 5-level
#   smp      4 CPUs in 5-level: the APs start in it, every one takes part in the self-test
#   kernel   a kernel that makes no Paging Mode request (build/esp-nopaging.img), 2 CPUs: the
#            loader leaves 4-level, the kernel switches itself and its AP to 5-level
#   conf     limine.conf max_paging_mode: 4level on an LA57 CPU: the loader gives 4-level and the
#            kernel, whose request was answered, stays there
#   fw5      2 CPUs, a loader in 5-level paging from ExitBootServices on, as under a firmware
#            that runs it (build/esp-fw5.img, efi/limine/fw5test.c): the kernel gets 5-level
#            without a switch
#   fw5conf  the same with max_paging_mode: 4level: the enter stub switches down to 4-level
set -u
cd "$(dirname "$0")/../.."
case=${1:-}
log=$(mktemp)
img=
trap 'rm -f "$log" $img' EXIT
mem=512M smp=1 image=build/esp.img cpu=max,+la57
case $case in
5level) ;;
4level) cpu=max,-la57 ;;
1t) mem=1T cpu=max,phys-bits=46,+la57 ;;
smp) smp=4 ;;
kernel) smp=2 image=build/esp-nopaging.img ;;
fw5) smp=2 image=build/esp-fw5.img ;;
conf | fw5conf)
    img=$(mktemp)
    cp build/esp.img "$img"
    [ "$case" = fw5conf ] && cp build/esp-fw5.img "$img" && smp=2
    printf '%s\n' "timeout: 0" "/uefi-pmm, 4-level at most" "    protocol: limine" \
        "    path: boot():/EFI/pmm/kernel.elf" "    max_paging_mode: 4level" >"$img.conf"
    mcopy -o -i "$img" "$img.conf" ::/limine.conf
    rm -f "$img.conf"
    image=$img
    ;;
*)
    echo "usage: la57.sh 5level|4level|1t|smp|kernel|conf|fw5|fw5conf" >&2
    exit 2
    ;;
esac
ovmf/run.sh --mem "$mem" --smp "$smp" --image "$image" --timeout 600 --log "$log" -- -cpu "$cpu" \
    >/dev/null 2>&1
rc=$?
text=$(tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g')
fail() {
    echo "la57.sh $case (-cpu $cpu, $mem, $smp CPUs): $*"
    echo "---- boot log (exit status $rc) ----"
    echo "$text"
    exit 1
}
has() { echo "$text" | grep -q "$1"; }
[ "$rc" = 33 ] || fail "QEMU exited $rc, want 33 (kernel PASS)"
has "^kernel: verdict: PASS" || fail "no PASS verdict"
has "^kernel: paging: [45]-level" || fail "the kernel did not say which paging mode it runs"
loader5="^loader: 5-level paging for the kernel (the CPU has LA57; the firmware runs 4-level, switched at the jump), HHDM at 0xFF00000000000000$"
kernel5="^kernel: paging: 5-level (the loader's Paging Mode response and CR4.LA57 agree)$"
case $case in
5level | 1t | smp)
    has "$loader5" || fail "the loader did not give 5-level paging, switching from the firmware's 4"
    has "$kernel5" || fail "the kernel does not run 5-level paging"
    has "^kernel: started by .*, HHDM at 0xff00000000000000$" || fail "not the 5-level HHDM"
    has "^kernel: own page tables (5-level): " || fail "the kernel's own tables are not 5-level"
    ;;
4level)
    has "^loader: 4-level paging for the kernel (the CPU has no LA57; the firmware runs 4-level), HHDM at 0xFFFF800000000000$" ||
        fail "the loader did not give 4-level paging on a CPU without LA57"
    has "^kernel: paging: 4-level (this CPU has no LA57)$" || fail "the kernel does not run 4-level"
    has "^kernel: own page tables (4-level): " || fail "the kernel's own tables are not 4-level"
    ;;
kernel)
    has "^loader: base revision 6; requests: .*Paging Mode" && fail "the variant asks for a paging mode"
    has "^loader: 4-level paging for the kernel (the CPU has LA57; the firmware runs 4-level), HHDM at 0xFFFF800000000000$" ||
        fail "the loader did not leave 4-level paging for a kernel that asks for none"
    has "^kernel: paging: 5-level (switched by the kernel: " || fail "the kernel did not switch itself"
    has "^kernel: own page tables (5-level): .* at 0xffff800000000000$" ||
        fail "the kernel's own tables are not 5-level with the loader's HHDM"
    ;;
conf | fw5conf)
    has "^loader: 4-level paging for the kernel (the CPU has LA57; the firmware runs 4-level), HHDM at 0xFFFF800000000000$" ||
        fail "the loader did not keep 4-level paging under max_paging_mode: 4level"
    has "^kernel: paging: 4-level (the loader chose it over the 5-level asked for)$" ||
        fail "the kernel did not keep the loader's answer"
    has "^kernel: own page tables (4-level): " || fail "the kernel's own tables are not 4-level"
    ;;
fw5)
    has "$kernel5" || fail "the kernel does not run 5-level paging"
    has "^kernel: own page tables (5-level): " || fail "the kernel's own tables are not 5-level"
    ;;
esac
case $case in
fw5*)
    has "^loader: test: the CPU runs 5-level paging now, as a firmware in 5-level would have left it$" ||
        fail "the test loader did not put the CPU in 5-level paging after ExitBootServices"
    ;;
esac
if [ "$smp" -gt 1 ]; then
    has "^kernel: $smp of $smp CPUs took part$" || fail "not all $smp CPUs took part"
fi
if [ "$case" = 1t ]; then
    mib=$(echo "$text" | sed -n 's/^kernel: own page tables (5-level): .* direct map of \([0-9]*\) MiB of RAM.*/\1/p')
    [ "${mib:-0}" -ge $(((1 << 20) - 1024)) ] || fail "the direct map covers ${mib:-no} MiB, not the 1 TiB"
fi
echo "$case: $(echo "$text" | grep "^kernel: paging: ")"
