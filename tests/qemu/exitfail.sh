#!/bin/sh
# exitfail.sh - a failure after the first ExitBootServices call never returns: a loader built so
# that every map key is stale (build/esp-stalekey.img) must say so on serial and on the screen
# (red banner, checked against the font), without a boot service, and stay halted: no return to
# the boot manager (no BdsDxe line after it), no kernel, QEMU still running until we quit it.
set -u
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null' EXIT
ovmf/run.sh --image build/esp-stalekey.img --vga --monitor "$dir/mon" --timeout 150 \
    --log "$dir/serial" >/dev/null 2>&1 &
pid=$!
fail() {
    echo "$*"
    echo "---- serial ----"
    tr -d '\r' <"$dir/serial" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g'
    exit 1
}
i=0
until grep -q "loader: halted; the kernel was not started" "$dir/serial" 2>/dev/null; do
    sleep 1
    i=$((i + 1))
    [ $i -lt 120 ] && kill -0 $pid 2>/dev/null || fail "no halt message on serial"
done
sleep 3 # would it return to the boot manager?
kill -0 $pid 2>/dev/null || fail "QEMU stopped: the loader did not halt"
grep -q "loader: cannot exit boot services: ExitBootServices refused every memory map" \
    "$dir/serial" || fail "the message does not say what failed"
tr -d '\r' <"$dir/serial" | sed -n '/exiting boot services/,$p' | grep -q "BdsDxe\|kernel:" &&
    fail "something ran after the failed exit"
python3 - "$dir/mon" "$dir/screen.ppm" <<'PY'
import socket, sys, time, os
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
python3 tests/qemu/banner.py "$dir/screen.ppm" "loader: FAILED, halted" fail || fail "screen check failed"
