#!/bin/sh
# screen.sh [PNG] - boot with a display adapter and a kernel that stays on its verdict, take a
# screendump through QEMU's monitor once serial shows the verdict, and check the picture
# (screen.py). With PNG, also write the screenshot there (docs/screen.png, in docs/hardware.md).
set -u
. "$(dirname "$0")/screenlib.sh"
screen_boot build/esp-screen.img
screen_wait "kernel: verdict"
sleep 1 # the banner is drawn right after the serial line
screen_dump
grep -q "kernel: verdict: PASS" "$dir/serial" || fail "serial verdict is not PASS"
python3 tests/qemu/screen.py "$dir/screen.ppm" "kernel: verdict: PASS" pass ${1:+--png "$1"}
