#!/bin/sh
# shell.sh - the `pmm` shell command in OVMF's built-in UEFI shell: startup.nsh
# (tests/qemu/shell.nsh) loads the driver and runs every subcommand, bad arguments included, then
# `pmm boot`; check_shell.py checks the log and the files the guest wrote, and the map `pmm save`
# wrote is read back from the disk image and replayed on the host with expectations computed
# independently. A second disk (fs1:), full but for 2 KiB, holds the file a failed `pmm save -f`
# must leave alone. Then shell_tty.py drives `make shell`'s terminal and `make run`'s status.
set -u
img=$(mktemp /tmp/uefi-pmm-shell.XXXXXX)
full=$(mktemp /tmp/uefi-pmm-full.XXXXXX)
log=$(mktemp)
out=$(mktemp -d)
trap 'rm -rf "$img" "$full" "$log" "$out"' EXIT
cp build/shell-test.img "$img"

# fs1: a 1.44 MB FAT12 volume: old.txt, and a filler taking all but 2 KiB of the rest
rm -f "$full"
mformat -i "$full" -C -f 1440 -v FULL :: || exit 1
printf 'the file a failed save must keep\n' >"$out/old.txt"
mcopy -i "$full" "$out/old.txt" ::/old.txt
free=$(mdir -i "$full" :: | sed -n 's/ //g; s/^\([0-9]*\)bytesfree$/\1/p')
head -c $((free - 2048)) /dev/zero >"$out/fill.bin"
mcopy -i "$full" "$out/fill.bin" ::/fill.bin
rm -f "$out/old.txt" "$out/fill.bin"

# --keys: a space skips the shell's 5 s wait and answers `pmm map -b`'s page-break prompts
ovmf/run.sh --image "$img" --keys ' ' --keys-for 300 --timeout 300 --log "$log" \
    -- -drive format=raw,file="$full" >/dev/null 2>&1
rc=$?
for f in pmmmap.txt stats.txt memmap.txt map.txt startup.nsh pf.txt err.txt oom.txt keep.txt.new \
    keep.txt; do
    mcopy -n -i "$img" "::/$f" "$out/$f" 2>/dev/null
done
mcopy -n -i "$full" ::/old.txt "$out/old.txt" 2>/dev/null
mdir -i "$full" :: >"$out/full.dir" 2>&1
mdir -i "$img" :: >"$out/root.dir" 2>&1
python3 tests/qemu/check_shell.py "$log" "$rc" "$out" || exit 1
saved=$out/pmmmap.txt
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
replay="$(grep -c '^efi: mem' "$saved") descriptors, $(tail -n 1 "$log.replay")"
rm -f "$log.replay"
python3 tests/qemu/shell_tty.py || exit 1
echo "pmm save -> host replay: $replay"
