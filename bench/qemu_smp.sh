#!/bin/sh
# qemu_smp.sh - `make bench PART=qemu`: the kernel's all-CPU self-test under QEMU with
# multi-threaded TCG, as many vCPUs as cores and more (issue 18). Boots
#   make run SMP=N MEM=1G QEMU_ARGS="-accel tcg,thread=multi"
# BOOTS times (5) for each N in CPUS ("1 3 8"), each boot under the shared QEMU lock
# (flock /tmp/uefi-pmm-qemu.lock: other jobs boot QEMU on this machine too), and reads the line
#   kernel: smp selftest: N CPUs at once, X operations in Y ms; ...
# (Y in whole milliseconds, the guest's TSC). Prints, per boot,
#   bench qemu_smp_boot vcpus=N boot=B ops=X ms=Y ops_per_ms=X/Y over_1vcpu=R verdict=PASS|FAIL
# where R is the boot's ops/ms over the median of the 1-vCPU boots' (so N=1 must be in CPUS and
# come first for R), and per N
#   bench qemu_smp vcpus=N boots=5 ops_per_ms_median=.. ops_per_ms_min=.. over_1vcpu_median=..
#         over_1vcpu_min=.. boots_at_or_above_1vcpu=K/5 host_cores=C
# A boot that prints no self-test line counts as 0 operations. The wall time of each boot is the
# host's business (it includes waiting for the lock) and is not reported.
set -u
cd "$(dirname "$0")/.." || exit 2
boots=${BOOTS:-5}
cpus=${CPUS:-"1 3 8"}
lock=/tmp/uefi-pmm-qemu.lock
make -s image >/dev/null || exit 2 # built before taking the lock
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
base=
fail=0
for n in $cpus; do
    : >"$tmp/rates"
    b=1
    while [ "$b" -le "$boots" ]; do
        verdict=PASS
        timeout -k 10 900 flock "$lock" make -s --no-print-directory run SMP="$n" MEM=1G \
            QEMU_ARGS="-accel tcg,thread=multi" >"$tmp/boot.log" 2>&1 || verdict=FAIL
        line=$(grep -a "^kernel: smp selftest: $n CPUs\{0,1\} at once, " "$tmp/boot.log" | head -n 1)
        ops=$(echo "$line" | sed -n 's/.* at once, \([0-9]*\) operations in \([0-9]*\) ms.*/\1/p')
        ms=$(echo "$line" | sed -n 's/.* at once, \([0-9]*\) operations in \([0-9]*\) ms.*/\2/p')
        [ -n "$ops" ] || { ops=0; ms=0; verdict=FAIL; }
        [ "$verdict" = PASS ] || fail=1
        rate=$(awk -v o="$ops" -v m="$ms" 'BEGIN { printf "%.1f", (m > 0 ? o / m : 0) }')
        ratio=$(awk -v r="$rate" -v b="${base:-0}" 'BEGIN { if (b > 0) printf "%.3f", r / b; else printf "n/a" }')
        echo "bench qemu_smp_boot vcpus=$n boot=$b ops=$ops ms=$ms ops_per_ms=$rate over_1vcpu=$ratio verdict=$verdict"
        echo "$rate" >>"$tmp/rates"
        b=$((b + 1))
    done
    sort -g "$tmp/rates" >"$tmp/sorted"
    med=$(awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }' "$tmp/sorted")
    min=$(head -n 1 "$tmp/sorted")
    [ "$n" = 1 ] && base=$med
    awk -v n="$n" -v med="$med" -v min="$min" -v b="${base:-0}" -v boots="$boots" \
        -v cores="$(nproc)" '
        { if (b > 0 && $1 >= b) k++ }
        END {
            if (b > 0)
                printf "bench qemu_smp vcpus=%s boots=%d ops_per_ms_median=%s ops_per_ms_min=%s " \
                       "over_1vcpu_median=%.3f over_1vcpu_min=%.3f boots_at_or_above_1vcpu=%d/%d " \
                       "host_cores=%s\n", n, boots, med, min, med / b, min / b, k, boots, cores
            else
                printf "bench qemu_smp vcpus=%s boots=%d ops_per_ms_median=%s ops_per_ms_min=%s " \
                       "host_cores=%s (no 1-vCPU boots to compare with)\n", n, boots, med, min, cores
        }' "$tmp/sorted"
done
exit $fail
