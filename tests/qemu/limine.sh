#!/bin/sh
# limine.sh CASE [MEM SMP MACHINE [gpt]] - boot one of the Limine-protocol test kernels
# (tests/limine/, built by `make limine-kernels`) with our loader, and check what it reports.
#
# Each run writes its own FAT image (mtools, no root): the loader as /EFI/BOOT/BOOTX64.EFI, the
# kernel under /boot/kernels/, modules of fresh random bytes, and a limine.conf whose kernel
# command line tells the kernel what QEMU was given (RAM, CPUs, machine, display) and every
# file's path, size and FNV-1a hash, ending in a hash of the line itself (tests/limine/lt.h has
# the syntax). The kernel checks every response against that and leaves through isa-debug-exit;
# this script then wants QEMU's status 33, the kernel's "verdict: PASS" and no "FAIL" line on
# the debug console (port 0xE9), and checks what only the loader's serial log can tell.
#
#   full MEM SMP MACHINE [gpt]   every request, modules, internal modules, the live allocator;
#                                gpt: a GPT disk with known GUIDs instead of a plain FAT volume
#   pie | pie-relr | rev0 | rev0s | future | plain    one boot each, in a fixed QEMU shape
#   kaslr    pie, then pie-relr (both kaslr: yes): at least one must land off the minimum slide
#   refuse-dup | refuse-low | refuse-reloc | refuse-module | refuse-conf | refuse-inmod
#            the loader must refuse before ExitBootServices, saying why on serial (the line of
#            limine.conf where there is one); no kernel may run
#
# QEMU_LOCK=FILE: every QEMU run holds flock(1) on FILE while it runs (shared machines).
# LIMINE_LOGS=DIR: keep each boot's serial and debug-console logs there. The last line printed
# is a one-line summary.
set -u
cd "$(dirname "$0")/../.." || exit 2
case=${1:?usage: limine.sh CASE [MEM SMP MACHINE [gpt]]}
dir=$(mktemp -d /tmp/uefi-pmm-limine.XXXXXX)
qpid=
trap '[ -n "$qpid" ] && kill "$qpid" 2>/dev/null; rm -rf "$dir"' EXIT
root=$dir/root serial=$dir/serial debug=$dir/debug img=$dir/disk.img

py() { python3 -c "$@"; }
fnv_file() { py 'import sys
h = 0xcbf29ce484222325
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 0x100000001b3) & (2**64 - 1)
print("%x" % h)' "$1"; }
fnv_str() { printf '%s' "$1" >"$dir/str" && fnv_file "$dir/str"; }
random_file() { py 'import os, sys; open(sys.argv[1], "wb").write(os.urandom(int(sys.argv[2])))' "$1" "$2"; }
random_size() { py 'import random, sys; print(random.randint(int(sys.argv[1]), int(sys.argv[2])))' "$1" "$2"; }
blake2b() { py 'import hashlib, sys; print(hashlib.blake2b(open(sys.argv[1], "rb").read()).hexdigest())' "$1"; }
pct() { printf '%s' "$1" | sed 's/%/%25/g; s/ /%20/g; s/;/%3B/g'; }
size_of() { wc -c <"$1" | tr -d ' '; }
# the file's expectation: PATH;SIZE;HASH (as the kernel will see it)
expect_file() { echo "$(pct "$2");$(size_of "$1");$(fnv_file "$1")"; }

keep_logs() {
    [ -z "${LIMINE_LOGS:-}" ] || { mkdir -p "$LIMINE_LOGS" &&
        cp "$serial" "$LIMINE_LOGS/$case-${kernel:-}.serial" &&
        cp "$debug" "$LIMINE_LOGS/$case-${kernel:-}.debug"; }
}
lock() { [ -z "${QEMU_LOCK:-}" ] || { exec 9>"$QEMU_LOCK" && flock 9; }; }
unlock() { [ -z "${QEMU_LOCK:-}" ] || { flock -u 9; exec 9>&-; }; }

fail() {
    echo "limine $case: $*"
    if [ -s "$debug" ]; then
        echo "---- failed checks (debug console) ----"
        grep -a "^FAIL" "$debug" | head -n 40
        echo "---- debug console ----"
        tail -n 80 "$debug"
    fi
    echo "---- serial (loader) ----"
    tr -d '\r' <"$serial" 2>/dev/null | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g' | grep -a -v "^kernel: map:" |
        tail -n 40
    exit 1
}

# The image: everything under $root, on a FAT volume (whose boot sector doubles as a one-entry
# MBR, disk signature $mbr_id) or on partition 1 of a GPT disk.
make_image() { # mbr | gpt DISKGUID PARTGUID
    rm -f "$img"
    if [ "$1" = gpt ]; then
        truncate -s 64M "$img"
        sgdisk -o -n 1:2048:0 -t 1:ef00 -U "$2" -u "1:$3" "$img" >/dev/null || fail "sgdisk failed"
        at="$img@@1M"
        mformat -i "$at" -F -v LTEST :: || fail "mformat failed"
    else
        at=$img
        mformat -i "$at" -C -T 65536 -h 64 -s 32 -v LTEST :: || fail "mformat failed"
        # mformat's boot sector carries a one-entry MBR; give it the disk signature we expect
        py 'import sys; f = open(sys.argv[1], "r+b"); f.seek(440); f.write(bytes.fromhex(sys.argv[2])[::-1])' \
            "$img" "$mbr_id"
    fi
    (cd "$root" && for f in *; do mcopy -s -i "$at" "$f" ::/ || exit 1; done) || fail "mcopy failed"
}

# Lay out a kernel run: $1 kernel, $2 where limine.conf goes, $3 display (WxH, or none),
# $4 modules (yes/no), $5 the internal module (yes/no/absent), $6 kaslr (yes/no), $7 disk
# (mbr/gpt). Sets $cmdline and $conf_file. Extra limine.conf lines come in $conf_extra.
layout() {
    kernel=$1 confpath=$2 display=$3 mods=$4 inmod=$5 kaslr=$6 disk=$7
    rm -rf "$root"
    mkdir -p "$root/EFI/BOOT" "$root/boot/kernels" "$root/$(dirname "$confpath")"
    cp build/BOOTX64.EFI "$root/EFI/BOOT/BOOTX64.EFI"
    cp "build/limine/$kernel.elf" "$root/boot/kernels/$kernel.elf"
    cmdline="test=$kernel ram=$mem cpus=$smp bsp=0 machine=$machine"
    res=
    if [ "$display" = none ]; then
        cmdline="$cmdline fb=none"
    else
        cmdline="$cmdline fb=${display}x32:bgr" # QEMU's std VGA under OVMF: BGRX pixels
        res="    resolution: $display"
    fi
    cmdline="$cmdline self=$(expect_file "$root/boot/kernels/$kernel.elf" "/boot/kernels/$kernel.elf")"
    modconf=
    if [ "$inmod" = yes ]; then
        # full.c names "inmod.bin" (required, string "internal module one") and "absent.bin"
        random_file "$root/boot/kernels/inmod.bin" "$(random_size 3000 9000)"
        cmdline="$cmdline imod=$(expect_file "$root/boot/kernels/inmod.bin" /boot/kernels/inmod.bin);$(pct "internal module one")"
    fi
    if [ "$mods" = yes ]; then
        random_file "$root/boot/m1.bin" "$(random_size 10000 70000)"
        random_file "$root/boot/m2.bin" 8192
        s1="first module, with spaces"
        cmdline="$cmdline mod=$(expect_file "$root/boot/m1.bin" /boot/m1.bin);$(pct "$s1")"
        cmdline="$cmdline mod=$(expect_file "$root/boot/m2.bin" /boot/m2.bin);"
        modconf="    module_path: boot():/boot/m1.bin
    module_cmdline: $s1
    module_path: boot():/boot/m2.bin#$(blake2b "$root/boot/m2.bin")"
    fi
    if [ "$disk" = gpt ]; then
        disk_guid=$(py 'import uuid; print(uuid.uuid4())') part_guid=$(py 'import uuid; print(uuid.uuid4())')
        cmdline="$cmdline disk=gpt:$disk_guid:$part_guid"
    else
        mbr_id=$(py 'import random; print("%08x" % random.randint(1, 2**32 - 1))')
        cmdline="$cmdline disk=mbr:$mbr_id"
    fi
    cmdline="$cmdline end=$(fnv_str "$cmdline")"
    conf_file=$root/$confpath
    {
        echo "# uefi-pmm Limine test: $kernel on $machine, $smp CPU(s), $mem"
        echo "timeout: 0"
        echo
        echo "/Limine test kernel $kernel"
        echo "    protocol: limine"
        echo "    path: boot():/boot/kernels/$kernel.elf"
        echo "    cmdline: $cmdline"
        echo "    kaslr: $kaslr"
        [ -n "$res" ] && echo "$res"
        [ -n "$modconf" ] && echo "$modconf"
        [ -n "${conf_extra:-}" ] && echo "$conf_extra"
    } >"$conf_file"
    if [ "$disk" = gpt ]; then
        make_image gpt "$disk_guid" "$part_guid"
    else
        make_image mbr
    fi
}

# One QEMU boot to its end (the kernel's isa-debug-exit, or the timeout).
boot() { # VGA(yes/no)
    vga=
    [ "$1" = yes ] && vga=--vga
    : >"$debug"
    lock
    t0=$(date +%s%N)
    # shellcheck disable=SC2086
    ovmf/run.sh --mem "$mem" --smp "$smp" --machine "$machine" --fw 4M --image "$img" $vga \
        --timeout 120 --log "$serial" -- -debugcon "file:$debug" >/dev/null 2>&1 9>&-
    rc=$?
    t1=$(date +%s%N)
    unlock
    keep_logs
    secs=$(((t1 - t0) / 100000000))
    secs="$((secs / 10)).$((secs % 10))"
}

# After a kernel's boot: its verdict, its view of the command line, the loader's name.
check_kernel() { # WHAT
    case $rc in
    33) ;;
    35) fail "the kernel's verdict is FAIL: $(grep -ac "^FAIL" "$debug") failed checks" ;;
    124) fail "no verdict in 120 s: QEMU was stopped" ;;
    *) fail "QEMU exited $rc, without a verdict from the kernel (a crash, a reset, a hang?)" ;;
    esac
    grep -aq "^verdict: PASS" "$debug" || fail "no PASS verdict from the kernel"
    ! grep -aq "^FAIL" "$debug" || fail "the kernel failed a check"
    grep -aqF "info cmdline: \"$cmdline\"" "$debug" ||
        fail "the kernel's command line is not the one limine.conf gave it"
    bl=$(sed -n 's/^info bootloader: //p' "$debug")
    if [ -n "$bl" ]; then
        tr -d '\r' <"$serial" | grep -aq "^loader: $bl, image base" ||
            fail "the kernel says it was booted by \"$bl\"; the loader's banner says otherwise"
    fi
    checks=$(sed -n 's/^verdict: PASS (\([0-9]*\) checks)/\1/p' "$debug")
    summary="$1: PASS, $checks checks, $secs s"
}

# One kernel, one boot: layout, boot, checks. Defaults per kernel, MEM SMP MACHINE overridable.
kernel_case() { # KERNEL CONFPATH DISPLAY MODS INMOD KASLR DISK
    layout "$@"
    vga=no
    [ "$3" != none ] && vga=yes
    boot "$vga"
    check_kernel "$1 $mem smp=$smp $machine $7"
}

# A refusal: the message on serial, no kernel output, no ExitBootServices.
refuse_case() { # PATTERN
    pattern=$1
    : >"$debug"
    lock
    ovmf/run.sh --mem "$mem" --smp "$smp" --machine "$machine" --fw 4M --image "$img" \
        --timeout 120 --log "$serial" -- -debugcon "file:$debug" >/dev/null 2>&1 9>&- &
    qpid=$!
    i=0
    while [ $i -lt 600 ] && ! grep -aq -- "$pattern" "$serial" 2>/dev/null; do
        kill -0 "$qpid" 2>/dev/null || break
        sleep 0.1
        i=$((i + 1))
    done
    sleep 1 # would a kernel start after all?
    kill "$qpid" 2>/dev/null
    wait "$qpid" 2>/dev/null
    qpid=
    unlock
    keep_logs
    rc=refused
    grep -aq -- "$pattern" "$serial" || fail "no refusal matching '$pattern' on serial"
    [ ! -s "$debug" ] || fail "a kernel ran (it wrote to the debug console)"
    ! grep -aq "exiting boot services" "$serial" || fail "the loader went on to ExitBootServices"
    summary="$case: refused: $(tr -d '\r' <"$serial" | grep -a -- "$pattern" | tail -n 1)"
}

mem=${2:-512M} smp=${3:-1} machine=${4:-q35}
case $case in
full)
    kernel_case full /boot/limine.conf "$([ "${5:-}" = gpt ] && echo 800x600 || echo 1024x768)" \
        yes yes yes "${5:-mbr}"
    ;;
pie | pie-relr)
    kernel_case "$case" /limine.conf none no no yes mbr
    ;;
kaslr)
    slides=
    for k in pie pie-relr; do
        kernel_case "$k" /limine.conf none no no yes mbr
        s=$(sed -n 's/^info pie: slide \(0x[0-9a-f]*\) (minimum \(0x[0-9a-f]*\)).*/\1 \2/p' "$debug")
        [ -n "$s" ] || fail "$k printed no slide"
        slides="$slides $s"
        echo "$summary"
    done
    # shellcheck disable=SC2086
    set -- $slides
    # With KASLR each slide is one of hundreds of 2 MiB steps: both at the minimum is what a
    # loader that ignores kaslr: yes does (or, with KASLR, a chance well under 1 in 100000).
    [ "$1" = "$2" ] && [ "$3" = "$4" ] && fail "both kernels got the minimum slide $1: kaslr: yes had no effect"
    note=
    [ "$1" = "$3" ] && note=" (the same slide twice: a 1 in several hundred chance)"
    summary="kaslr: slides $1 and $3, minimum $2$note"
    ;;
rev0 | rev0s)
    kernel_case "$case" /limine/limine.conf 1024x768 no no no mbr
    ;;
future)
    smp=${3:-2} machine=${4:-pc}
    kernel_case future /EFI/BOOT/limine.conf none no no no mbr
    ;;
plain)
    mem=${2:-1G}
    kernel_case plain /boot/limine/limine.conf none no no no mbr
    # It did not ask for the allocator: its usable, reclaimable and executable pages must still
    # be every page the loader's allocator manages (page 0 aside, which is reserved).
    total=$(tr -d '\r' <"$serial" | sed -n 's/^loader: .*pmm: total=\([0-9]*\) .*/\1/p' | head -n 1)
    counts=$(sed -n 's/^info memmap: usable=\([0-9]*\) reclaimable=\([0-9]*\) executable=\([0-9]*\) pages$/\1 \2 \3/p' "$debug")
    [ -n "$total" ] && [ -n "$counts" ] || fail "no loader summary or no counts from the kernel"
    # shellcheck disable=SC2086
    set -- $counts
    sum=$(($1 + $2 + $3))
    [ "$sum" -le "$total" ] && [ "$sum" -ge $((total - 1)) ] ||
        fail "usable $1 + reclaimable $2 + executable $3 = $sum pages; the loader's allocator manages $total"
    summary="$summary; usable $1 + reclaimable $2 + executable $3 = $sum of the allocator's $total pages"
    ;;
refuse-dup)
    layout dup /boot/limine.conf none no no no mbr
    refuse_case "kernel rejected: .*same request twice.*HHDM"
    ;;
refuse-low)
    layout low /boot/limine.conf none no no no mbr
    refuse_case "kernel rejected: .*below 0xffffffff80000000"
    ;;
refuse-reloc)
    layout badreloc /boot/limine.conf none no no no mbr
    refuse_case "kernel rejected: .*R_X86_64_64"
    ;;
refuse-module)
    conf_extra="    module_path: boot():/boot/missing.bin"
    layout full /boot/limine.conf none yes yes no mbr
    line=$(grep -n "missing.bin" "$conf_file" | cut -d: -f1)
    refuse_case "module /boot/missing.bin (limine.conf line $line)"
    ;;
refuse-conf)
    layout plain /boot/limine.conf none no no no mbr
    # a line that is no "key: value", inserted as line 6 of the entry
    sed -i '6i\    this line has no colon' "$conf_file"
    make_image mbr
    refuse_case "limine.conf line 6: "
    ;;
refuse-inmod)
    layout full /boot/limine.conf none no yes no mbr
    rm "$root/boot/kernels/inmod.bin"
    make_image mbr
    refuse_case "requires internal module /boot/kernels/inmod.bin"
    ;;
*)
    echo "limine.sh: unknown case $case" >&2
    exit 2
    ;;
esac
echo "$summary"
