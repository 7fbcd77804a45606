# screenlib.sh - sourced by the framebuffer tests (screen.sh, panicscreen.sh, exitfail.sh): boot an
# image with a display adapter and a monitor socket, wait for a serial line, take a screendump.
#
#   screen_boot IMAGE          starts QEMU in the background ($pid; serial in $dir/serial)
#   screen_wait PATTERN        waits up to 120 s for PATTERN on serial, or fails
#   screen_dump                writes $dir/screen.ppm through the monitor, then quits QEMU
#   fail MESSAGE               prints the message and the serial log, exits 1
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null' EXIT

fail() {
    echo "$*"
    echo "---- serial ----"
    tr -d '\r' <"$dir/serial" 2>/dev/null | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g'
    exit 1
}

screen_boot() {
    ovmf/run.sh --image "$1" --vga --monitor "$dir/mon" --timeout 150 --log "$dir/serial" \
        >/dev/null 2>&1 &
    pid=$!
}

screen_wait() {
    i=0
    until grep -q "$1" "$dir/serial" 2>/dev/null; do
        sleep 1
        i=$((i + 1))
        [ $i -lt 120 ] && kill -0 "$pid" 2>/dev/null || fail "no '$1' on serial"
    done
}

screen_dump() {
    python3 - "$dir/mon" "$dir/screen.ppm" <<'PY'
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
s.recv(4096)
s.sendall(f"screendump {sys.argv[2]}\n".encode())
for _ in range(50):
    time.sleep(0.2)
    if os.path.exists(sys.argv[2]) and os.path.getsize(sys.argv[2]) > 1000:
        break
time.sleep(0.5)
s.sendall(b"quit\n")
PY
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 20 ]; do # QEMU leaves after `quit`
        sleep 0.5
        i=$((i + 1))
    done
}
