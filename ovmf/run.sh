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
#   --interactive    the terminal is the serial console, multiplexed with QEMU's monitor
#                    (make shell): Ctrl-A X quits QEMU, Ctrl-A C the monitor, Ctrl-C goes to the
#                    guest; default: no input
#   --keys STRING    type STRING on the serial console twice a second (printf escapes); " "
#                    skips the UEFI shell's 5 s wait before startup.nsh and answers its
#                    page-break prompts
#   --keys-for SECS  keep typing --keys for SECS seconds (15)
#   --verdict MODE   exit 0 on the kernel's PASS and 1 otherwise, saying which (make run: MODE
#                    run); MODE shell also takes QEMU quitting normally (Ctrl-A X, reset -s) as 0
#
# Serial is the terminal; no display. Exits with QEMU's status: 33 when the kernel's verdict is
# PASS (isa-debug-exit 0x10), 35 on FAIL, 124 on timeout (see --verdict).
set -eu
mem=512M smp=1 machine=q35 fw=4M image=build/esp.img timeout=0 log= keys= input=/dev/null usb=0 vga=none monitor=none noserial=0
keys_for=15 verdict=
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
        --keys-for) keys_for=$2; shift 2 ;;
        --verdict) verdict=$2; shift 2 ;;
        --interactive) input=/dev/stdin; shift ;;
        --no-serial) noserial=1; shift ;;
        --usb) usb=1; shift ;;
        --vga) vga=std; shift ;;
        --monitor) monitor="unix:$2,server,nowait"; shift 2 ;;
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
    (i=0; while [ $i -lt $((keys_for * 2)) ]; do sleep 0.5; printf "$keys"; i=$((i + 1)); done
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
# mon: multiplexes QEMU's monitor onto the terminal (Ctrl-A X, Ctrl-A C) and, in this short
# form, turns the terminal's signals off, so Ctrl-C reaches the guest instead of killing QEMU.
[ "$input" = /dev/stdin ] && serial="-serial mon:stdio"
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
    exec $to qemu-system-x86_64 -machine "$machine" $cpu -smp "$smp" $memargs -accel tcg,thread=multi \
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
case $verdict in
    "") exit $rc ;;
    run | shell)
        case $rc in
            33) echo "run.sh: PASS (the kernel's verdict; QEMU status 33)"; exit 0 ;;
            35) echo "run.sh: FAIL (the kernel's verdict; QEMU status 35)" >&2; exit 1 ;;
            0) [ "$verdict" = shell ] && exit 0
               echo "run.sh: FAIL: QEMU stopped without a verdict from the kernel" >&2; exit 1 ;;
            124) echo "run.sh: FAIL: timed out" >&2; exit 1 ;;
            *) echo "run.sh: FAIL: QEMU exited with status $rc" >&2; exit 1 ;;
        esac ;;
    *) echo "run.sh: --verdict wants run or shell, not $verdict" >&2; exit 2 ;;
esac
