#!/bin/sh
# debug.sh - `make debug` works: GDB attached to the debug image finds the loader's symbols at the
# base the loader printed (it shows efi_main with its source line) and stops in the kernel's kmain.
set -u
log=build/debug/serial.log
rm -f "$log"
ovmf/run.sh --image build/debug/esp.img --log "$log" --timeout 120 -- -s >/dev/null 2>&1 &
i=0
until grep -q "waiting for the debugger" "$log" 2>/dev/null; do
    sleep 1
    i=$((i + 1))
    [ $i -lt 60 ] || { echo "the debug loader never waited"; cat "$log"; exit 1; }
done
base=$(sed -n 's/.*image base \(0x[0-9A-Fa-f]*\).*/\1/p' "$log" | head -n 1)
out=$(timeout 90 gdb -q -batch -ex "target remote :1234" \
    -ex "add-symbol-file build/debug/loader.so -o $base" -ex "add-symbol-file build/kernel.elf" \
    -ex "bt 1" -ex "hbreak kmain" -ex "set var pmm_debug_wait = 0" -ex "continue" \
    -ex "info symbol \$pc" -ex "kill" 2>&1)
echo "$out" | grep -q "efi_main (image=.*efi/main.c" || { echo "no efi_main frame:"; echo "$out"; exit 1; }
echo "$out" | grep -q "^kmain in section .text" || { echo "did not stop in kmain:"; echo "$out"; exit 1; }
echo "gdb: efi_main at loader base $base, then kmain"
