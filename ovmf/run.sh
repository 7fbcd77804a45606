#!/bin/sh
# run.sh [options] [-- extra QEMU arguments]: boot an image under OVMF in QEMU (TCG, never KVM).
#
#   --mem SIZE       guest RAM (512M); sizes above the host's RAM work: untouched memory is free
#   --smp N          CPUs (1)
#   --machine M      q35 or pc (q35)
#   --fw F           2M, 4M (default) or 4M-snakeoil, or a path to an OVMF_CODE file
#   --image FILE     the disk image (build/esp.img)
#   --usb            attach the image as a USB stick (xHCI) instead of a SATA/IDE disk
#   --vga            give the guest a display adapter (std VGA: a GOP framebuffer), shown nowhere
#   --monitor SOCK   QEMU's monitor on a unix socket (for screendump)
#   --timeout SECS   kill QEMU after this long (0: never; default 0)
#   --log FILE       also write the serial console to FILE
#   --no-serial      no serial port at all (like most PCs); --log is then empty
#   --interactive    the terminal is the serial console (make shell); default: no input
#   --keys STRING    type STRING on the serial console twice a second for the first 15 s
#                    (printf escapes); " " skips the UEFI shell's 5 s wait before startup.nsh
#
# Serial is the terminal; no display. Exits with QEMU's status: 33 when the kernel's verdict is
# PASS (isa-debug-exit 0x10), 35 on FAIL, 124 on timeout.
set -eu
mem=512M smp=1 machine=q35 fw=4M image=build/esp.img timeout=0 log= keys= input=/dev/null usb=0 vga=none monitor=none noserial=0
while [ $# -gt 0 ]; do
    case $1 in
        --mem) mem=$2; shift 2 ;;
        --smp) smp=$2; shift 2 ;;
        --machine) machine=$2; shift 2 ;;
        --fw) fw=$2; shift 2 ;;
        --image) image=$2; shift 2 ;;
        --timeout) timeout=$2; shift 2 ;;
        --log) log=$2; shift 2 ;;
        --keys) keys=$2; shift 2 ;;
        --interactive) input=/dev/stdin; shift ;;
        --no-serial) noserial=1; shift ;;
        --usb) usb=1; shift ;;
        --vga) vga=std; shift ;;
        --monitor) monitor="unix:$2,server,nowait"; shift 2 ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --) shift; break ;;
        *) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
set -- "$@"
here=$(dirname "$0")
fwfiles=$("$here/find.sh" "$fw")
code=${fwfiles% *}
vars_src=${fwfiles#* }
vars=$(mktemp /tmp/uefi-pmm-vars.XXXXXX)
feeder=
trap 'rm -f "$vars" ${fifo:-}; [ -n "$feeder" ] && kill "$feeder" 2>/dev/null' EXIT
if [ -n "$keys" ]; then
    fifo=$(mktemp -u /tmp/uefi-pmm-keys.XXXXXX)
    mkfifo "$fifo"
    # shellcheck disable=SC2059
    (i=0; while [ $i -lt 30 ]; do sleep 0.5; printf "$keys"; i=$((i + 1)); done
        exec sleep 86400) >"$fifo" &
    feeder=$!
    input=$fifo
fi
cp "$vars_src" "$vars" # each run gets its own variable store

# Big guests: back RAM with a reservation-free object so only touched pages cost host memory.
bytes=$(numfmt --from=iec "$mem" 2>/dev/null || echo 0)
memargs="-m $mem"
cpu="-cpu max"
if [ "$bytes" -gt $((8 << 30)) ]; then
    memargs="-m $mem -object memory-backend-ram,id=m0,size=$mem,reserve=off"
    machine="$machine,memory-backend=m0"
    cpu="-cpu max,phys-bits=46"
fi

serial="-serial stdio"
[ -n "$log" ] && serial="-chardev stdio,id=s0,logfile=$log -serial chardev:s0"
[ "$noserial" = 1 ] && serial="-serial none"

disk="-drive format=raw,file=$image"
[ "$usb" = 1 ] && disk="-device qemu-xhci -drive if=none,id=stick,format=raw,file=$image
    -device usb-storage,drive=stick,removable=on"

to=""
[ "$timeout" != 0 ] && to="timeout --foreground -k 5 $timeout"
# QEMU runs as a child we can stop: when this script is terminated (a test that gave up), QEMU
# goes too, instead of holding the image locked. With --interactive it stays in the foreground,
# where the terminal is.
set +e
# shellcheck disable=SC2086
run_qemu() { # exec: in the background, $! is QEMU (or the timeout watching it) itself
    exec $to qemu-system-x86_64 -machine "$machine" $cpu -smp "$smp" $memargs -accel tcg \
        -drive if=pflash,format=raw,unit=0,readonly=on,file="$code" \
        -drive if=pflash,format=raw,unit=1,file="$vars" \
        $disk \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
        -display none -vga $vga -monitor $monitor -nodefaults -no-reboot $serial "$@"
}
if [ "$input" = /dev/stdin ]; then
    (run_qemu "$@")
    rc=$?
else
    run_qemu "$@" <"$input" &
    qpid=$!
    trap 'kill "$qpid" 2>/dev/null; wait "$qpid"; rm -f "$vars" ${fifo:-}; [ -n "$feeder" ] && kill "$feeder" 2>/dev/null; exit 143' TERM INT
    wait "$qpid"
    rc=$?
fi
set -e
exit $rc
