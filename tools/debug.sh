#!/bin/sh
# debug.sh [run.sh options] - boot the debug image under QEMU's GDB stub and attach GDB with the
# loader's symbols at the address the firmware loaded it (which the loader prints) and the
# kernel's at their link addresses. Break in efi_main's code or in kmain, then `continue`.
set -eu
log=build/debug/serial.log
rm -f "$log"
tools/deps.sh gdb
ovmf/run.sh --image build/debug/esp.img --log "$log" "$@" -- -s >/dev/null &
qemu=$!
trap 'kill $qemu 2>/dev/null' EXIT
i=0
until grep -q "waiting for the debugger" "$log" 2>/dev/null; do
    sleep 1
    i=$((i + 1))
    [ $i -lt 60 ] || { echo "debug: the loader did not start; see $log" >&2; exit 1; }
done
base=$(sed -n 's/.*image base \(0x[0-9A-Fa-f]*\).*/\1/p' "$log" | head -n 1)
echo "debug: loader at $base; symbols loaded; the loader is spinning in efi_main"
gdb -q \
    -ex "target remote :1234" \
    -ex "add-symbol-file build/debug/loader.so -o $base" \
    -ex "add-symbol-file build/kernel.elf" \
    -ex "hbreak kmain" \
    -ex "set var pmm_debug_wait = 0" \
    -ex "echo efi_main is waiting; kmain has a breakpoint. 'continue' to go on.\n"
