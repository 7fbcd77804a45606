#!/bin/sh
# refuse.sh IMAGE PATTERN [FORBIDDEN] - booting IMAGE must be refused with a message matching
# PATTERN (from the loader, or from the firmware under Secure Boot), and nothing matching
# FORBIDDEN ("kernel:" by default) may appear: no kernel output, no hang. The firmware then goes on
# to its next boot option, so the run is bounded: stop as soon as the message shows, or fail after
# 120 s. RUN_OPTS passes launcher options (--fw, --usb).
set -u
image=$1 pattern=$2 forbidden=${3:-kernel:}
log=$(mktemp)
trap 'rm -f "$log"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null' EXIT
# shellcheck disable=SC2086
ovmf/run.sh ${RUN_OPTS:-} --image "$image" --timeout 150 --log "$log" >/dev/null 2>&1 &
pid=$!
i=0
while [ $i -lt 120 ] && ! grep -q "$pattern" "$log" 2>/dev/null; do
    sleep 1
    i=$((i + 1))
    kill -0 $pid 2>/dev/null || break
done
sleep 2 # would the kernel have started?
found=$(grep -c "$pattern" "$log")
kernel=$(grep -c "$forbidden" "$log")
if [ "$found" -eq 0 ] || [ "$kernel" -ne 0 ]; then
    echo "image $image: want '$pattern' and nothing matching '$forbidden'"
    echo "---- boot log ----"
    tr -d '\r' <"$log" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g'
    exit 1
fi
grep -a "$pattern" "$log" | tr -d '\r' | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g' | tail -n 1
