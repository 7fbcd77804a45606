#!/bin/sh
# panicscreen.sh - a kernel refusing the allocator it was handed says so on the framebuffer as well
# as on serial (most PCs have no COM1): a kernel built for the previous layout version that stays on
# its verdict (build/esp-oldscreen.img) must show console text and the red "kernel: verdict: FAIL"
# banner, checked against the font (screen.py).
set -u
. "$(dirname "$0")/screenlib.sh"
screen_boot build/esp-oldscreen.img
screen_wait "kernel: verdict"
sleep 1
hv=$(sed -n 's/^#define PMM_ABI_VERSION \([0-9]*\)u.*/\1/p' include/pmm.h)
grep -q "kernel: panic: the allocator's state has layout version $hv, but this kernel reads version $((hv - 1))" "$dir/serial" ||
    fail "serial does not show the refusal"
screen_dump
python3 tests/qemu/screen.py "$dir/screen.ppm" "kernel: verdict: FAIL" fail
