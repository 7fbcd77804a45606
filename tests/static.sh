#!/bin/sh
# static.sh - rules the code must keep that no boot can show:
#  - efi/exit.c, the ExitBootServices loop, calls no boot service but GetMemoryMap and
#    ExitBootServices (memory allocation services only through the allocator's claim hooks), uses
#    no gnu-efi library (nothing that prints) and no global table; tests/host/test_exit.c checks
#    at run time that nothing allocates between GetMemoryMap and ExitBootServices;
#  - after ExitBootServices (efi/handover.c, and what it calls: efi/limine/{machine,mp,memmap,
#    paging}.c, efi/cfgtables.c, loader_fatal in efi/fatal.c) the loader calls no boot service,
#    prints through no firmware console, uses no gnu-efi library;
#  - the loader disables the firmware watchdog first thing.
set -u
cd "$(dirname "$0")/.."
fail=0
bad() { # what, text
    echo "$1:"
    echo "$2" | sed 's/^/    /'
    fail=1
}

exitc=$(grep -v '^ \*\|^/\*' efi/exit.c)
echo "$exitc" | grep -q "bs->GetMemoryMap" && echo "$exitc" | grep -q "bs->ExitBootServices" ||
    bad "efi/exit.c does not call GetMemoryMap and ExitBootServices" "$(grep -n 'bs->' efi/exit.c)"
other=$(echo "$exitc" | grep -o 'bs->[A-Za-z]*' | grep -v -x -e 'bs->GetMemoryMap' -e 'bs->ExitBootServices')
[ -z "$other" ] || bad "efi/exit.c calls another boot service" "$other"
lib=$(echo "$exitc" | grep -n -E '\<(Print|BS|ST|RT|efilib\.h|loader\.h|serial_puts|AllocatePool|FreePool)\>')
[ -z "$lib" ] || bad "efi/exit.c uses the gnu-efi library, a global table or prints" "$lib"

# What runs after exit_boot_services() succeeded: efi/boot.c from the response builders on (they
# precede after_exit), the freestanding pieces, and the fatal report.
after=$(grep -v '^ \*\|^/\*' efi/handover.c)
grep -q "^void after_exit" efi/handover.c || bad "after_exit is not in efi/handover.c" "(efi/handover.c)"
fatalc=$(sed -n '/^void __attribute__((noreturn)) loader_fatal/,/^}/p' efi/fatal.c)
[ -n "$fatalc" ] || bad "loader_fatal is not where this check expects it" "(efi/fatal.c)"
pieces=$(cat efi/limine/machine.c efi/limine/mp.c efi/limine/memmap.c efi/limine/paging.c \
    efi/cfgtables.c | grep -v '^ \*\|^/\*')
for part in "efi/handover.c|$after" "loader_fatal|$fatalc" \
    "efi/limine pieces and cfgtables.c|$pieces"; do
    name=${part%%|*}
    text=${part#*|}
    hit=$(echo "$text" | grep -n -E '\<(Print|uefi_call_wrapper|BS|ST|RT|Lib[A-Za-z]*|AllocatePool|FreePool|CopyMem|SetMem)\>')
    [ -z "$hit" ] || bad "$name calls the firmware or the gnu-efi library" "$hit"
done

first=$(sed -n '/^EFI_STATUS efi_main/,/^}/p' efi/main.c | grep -m1 -E "fw_disable_watchdog|fw_build_pmm|kernel_read")
case $first in
*fw_disable_watchdog*) ;;
*) bad "efi_main does something before disabling the watchdog" "$first" ;;
esac
[ $fail = 0 ] && echo "exit loop: GetMemoryMap/ExitBootServices only; after exit: no firmware call; watchdog off first"
exit $fail
