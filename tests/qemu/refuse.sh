#!/bin/sh
# refuse.sh IMAGE PATTERN - the loader must refuse this image with a message matching PATTERN and
# return to the firmware: no kernel output, no hang. The firmware then goes on to its next boot
# option (the built-in shell), so the run is bounded: stop as soon as the message shows, or fail
# after 120 s.
set -u
image=$1 pattern=$2
log=$(mktemp)
trap 'rm -f "$log"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null' EXIT
ovmf/run.sh --image "$image" --timeout 150 --log "$log" >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 120 ] && ! grep -q "$pattern" "$log" 2>/dev/null; do
    sleep 1
    i=$((i + 1))
    kill -0 $pid 2>/dev/null || break
done
sleep 2 # would the kernel have started?
found=$(grep -c "$pattern" "$log")
kernel=$(grep -c "kernel:" "$log")
if [ "$found" -eq 0 ] || [ "$kernel" -ne 0 ]; then
    echo "image $image: want '$pattern' and no kernel output"
    echo "---- boot log ----"
    tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g'
    exit 1
fi
grep -a "loader:" "$log" | tr -d '\r' | tail -n 1
