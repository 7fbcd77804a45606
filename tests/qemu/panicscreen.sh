#!/bin/sh
# panicscreen.sh - a kernel refusing its handoff block says so on the framebuffer as well as on
# serial (most PCs have no COM1): a kernel built for handoff version 1 that stays on its verdict
# (build/esp-oldscreen.img) must show console text and the red "kernel: verdict: FAIL" banner,
# checked against the font (banner.py).
set -u
cd "$(dirname "$0")/../.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null' EXIT
ovmf/run.sh --image build/esp-oldscreen.img --vga --monitor "$dir/mon" --timeout 150 \
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
sleep 1
grep -q "kernel: panic: handoff block version 2, but this kernel reads version 1" "$dir/serial" ||
    { echo "serial does not show the refusal"; tr -d '\r' <"$dir/serial"; exit 1; }
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
python3 tests/qemu/banner.py "$dir/screen.ppm" "kernel: verdict: FAIL" fail
