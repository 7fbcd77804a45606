#!/bin/sh
# screen.sh [PNG] - boot with a display adapter and a kernel that stays on its verdict, take a
# screendump through QEMU's monitor once serial shows the verdict, and check the picture
# (screen.py). With PNG, also write the screenshot there (docs/screen.png in the README).
set -u
dir=$(mktemp -d)
trap 'rm -rf "$dir"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null' EXIT
ovmf/run.sh --image build/esp-screen.img --vga --monitor "$dir/mon" --timeout 150 \
    --log "$dir/serial" >/dev/null 2>&1 &
pid=$!
i=0
until grep -q "kernel: verdict" "$dir/serial" 2>/dev/null; do
    sleep 1
    i=$((i + 1))
    if [ $i -ge 120 ] || ! kill -0 $pid 2>/dev/null; then
        echo "no verdict on serial"
        tr -d '\r' <"$dir/serial"
        exit 1
    fi
done
sleep 1 # the banner is drawn right after the serial line
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
i=0
while kill -0 "$pid" 2>/dev/null && [ $i -lt 20 ]; do # QEMU leaves after `quit`
    sleep 0.5
    i=$((i + 1))
done
grep -q "kernel: verdict: PASS" "$dir/serial" || { echo "serial verdict is not PASS"; exit 1; }
if [ -n "${1:-}" ]; then
    python3 tests/qemu/screen.py "$dir/screen.ppm" --png "$1"
else
    python3 tests/qemu/screen.py "$dir/screen.ppm"
fi
