#!/bin/sh
# exitfail.sh - a failure after the first ExitBootServices call never returns: a loader built so
# that every map key is stale (build/esp-stalekey.img) must say so on serial and on the screen
# (red banner, checked against the font), without a boot service, and stay halted: no return to
# the boot manager (no BdsDxe line after it), no kernel, QEMU still running until we quit it.
set -u
. "$(dirname "$0")/screenlib.sh"
screen_boot build/esp-stalekey.img
screen_wait "loader: halted; the kernel was not started"
sleep 3 # would it return to the boot manager?
kill -0 $pid 2>/dev/null || fail "QEMU stopped: the loader did not halt"
grep -q "loader: cannot exit boot services: ExitBootServices refused every memory map" \
    "$dir/serial" || fail "the message does not say what failed"
tr -d '\r' <"$dir/serial" | sed -n '/exiting boot services/,$p' | grep -q "BdsDxe\|kernel:" &&
    fail "something ran after the failed exit"
screen_dump
python3 tests/qemu/screen.py "$dir/screen.ppm" "loader: FAILED, halted" fail || fail "screen check failed"
