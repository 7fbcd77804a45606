#!/bin/sh
# static.sh - rules the code must keep that no boot can show:
#  - between the final GetMemoryMap and ExitBootServices the loader allocates nothing and prints
#    nothing (printing can change the map on some laptops; an allocation always does);
#  - the loader disables the firmware watchdog first thing.
set -u
cd "$(dirname "$0")/.."
fail=0
loop=$(sed -n '/for (int i = 0; i < EXIT_TRIES; i++)/,/^    }/p' efi/transition.c)
[ -n "$loop" ] || { echo "the ExitBootServices loop is not where this check expects it"; fail=1; }
echo "$loop" | grep -q "GetMemoryMap" && echo "$loop" | grep -q "ExitBootServices" ||
    { echo "the loop does not call GetMemoryMap and ExitBootServices"; fail=1; }
if echo "$loop" | grep -E "Print|Allocate|pmm_alloc|serial_puts" >/dev/null; then
    echo "something prints or allocates between GetMemoryMap and ExitBootServices:"
    echo "$loop" | grep -E "Print|Allocate|pmm_alloc|serial_puts"
    fail=1
fi
first=$(sed -n '/^EFI_STATUS efi_main/,/^}/p' efi/main.c | grep -m1 -E "fw_disable_watchdog|fw_build_pmm|kernel_read")
case $first in
*fw_disable_watchdog*) ;;
*) echo "efi_main does something before disabling the watchdog: $first"; fail=1 ;;
esac
[ $fail = 0 ] && echo "nothing between the final GetMemoryMap and ExitBootServices; watchdog off first"
exit $fail
