#!/bin/sh
# static.sh - rules the code must keep that no boot can show:
#  - efi/exit.c, the ExitBootServices loop, calls no boot service but GetMemoryMap and
#    ExitBootServices (memory allocation services only through the allocator's claim hooks), uses
#    no gnu-efi library (nothing that prints) and no global table; tests/host/test_exit.c checks
#    at run time that nothing allocates between GetMemoryMap and ExitBootServices;
#  - after ExitBootServices (the rest of exit_and_jump in efi/transition.c, and efi/fatal.c) the
#    loader calls no boot service, prints through no firmware console, uses no gnu-efi library;
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

# exit_and_jump after exit_boot_services() succeeded, and the fatal report
after=$(sed -n '/^EFI_STATUS exit_and_jump/,/^}/p' efi/transition.c | sed -n '/exit_boot_services(/,$p' | sed 1,3d)
[ -n "$after" ] || bad "exit_and_jump is not where this check expects it" "(efi/transition.c)"
fatalc=$(grep -v '^ \*\|^/\*' efi/fatal.c)
for part in "exit_and_jump after ExitBootServices|$after" "efi/fatal.c|$fatalc"; do
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
