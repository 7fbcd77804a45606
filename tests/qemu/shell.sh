#!/bin/sh
# shell.sh - the `pmm` shell command in OVMF's built-in UEFI shell: startup.nsh
# (tests/qemu/shell.nsh) loads the driver and runs every subcommand, bad arguments included, then
# `pmm boot`; check_shell.py checks the log, and the map `pmm save` wrote is read back from the
# disk image and replayed on the host with expectations computed independently.
set -u
img=$(mktemp /tmp/uefi-pmm-shell.XXXXXX)
log=$(mktemp)
saved=$(mktemp)
trap 'rm -f "$img" "$log" "$saved"' EXIT
cp build/shell-test.img "$img"
ovmf/run.sh --image "$img" --keys ' ' --timeout 300 --log "$log" >/dev/null 2>&1
rc=$?
if ! mcopy -n -i "$img" ::/pmmmap.txt "$saved" 2>/dev/null; then
    : >"$saved"
fi
python3 tests/qemu/check_shell.py "$log" "$rc" "$saved" || exit 1
# shellcheck disable=SC2046
build/host/test_realmaps "$saved" $(python3 tests/memmaps_expect.py "$saved") >"$log.replay" 2>&1 || {
    echo "the map pmm save wrote did not replay on the host:"
    cat "$log.replay" "$saved"
    rm -f "$log.replay"
    exit 1
}
build/pmmsim "$saved" >"$log.sim" 2>&1 || {
    echo "pmmsim could not replay the saved map:"
    cat "$log.sim"
    exit 1
}
rm -f "$log.sim"
echo "pmm save -> host replay: $(grep -c '^efi: mem' "$saved") descriptors, $(tail -n 1 "$log.replay")"
rm -f "$log.replay"
