#!/bin/sh
# run.sh smoke|long SECONDS NAME... - run libFuzzer targets one after another.
#
#   smoke: from the committed corpus only (nothing written to it), fixed seed; what tests/run.sh runs
#   long:  corpus in build/fuzz/corpus/NAME (grows), seeded from tests/fuzz/corpus/NAME
#
# An input that runs longer than 10 s counts as a finding (a hang).
#
# Each target ends with one line: "NAME: N execs in S s (R/s), no finding", or its crash input
# (build/fuzz/crash/NAME-*) and a failure status. Needs `make build/fuzz/fuzz_NAME` first.
set -u
cd "$(dirname "$0")/../.."
mode=$1 secs=$2
shift 2
status=0
for name in "$@"; do
    bin=build/fuzz/fuzz_$name seeds=tests/fuzz/corpus/$name
    [ -x "$bin" ] || { echo "$name: $bin not built (make $bin)"; status=1; continue; }
    mkdir -p build/fuzz/crash
    log=build/fuzz/$name.log
    dicts=""
    [ -f "tests/fuzz/$name.dict" ] && dicts="-dict=tests/fuzz/$name.dict"
    if [ "$mode" = smoke ]; then
        work=$(mktemp -d)
        # shellcheck disable=SC2086
        "$bin" -max_total_time="$secs" -seed=1 -timeout=10 -print_final_stats=1 $dicts \
            -artifact_prefix="build/fuzz/crash/$name-" "$work" "$seeds" >"$log" 2>&1
        rc=$?
        rm -rf "$work"
    else
        mkdir -p "build/fuzz/corpus/$name"
        # shellcheck disable=SC2086
        "$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 $dicts \
            -artifact_prefix="build/fuzz/crash/$name-" "build/fuzz/corpus/$name" "$seeds" >"$log" 2>&1
        rc=$?
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        echo "$name: ${execs:-?} execs in $secs s (${rate:-?}/s), no finding"
    else
        status=1
        grep -E 'FUZZ FINDING|ERROR: (AddressSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" |
            head -n 5
        echo "$name: FINDING after ${execs:-?} execs; input $(sed -n 's/.*Test unit written to //p' "$log" | tail -n 1), log $log"
    fi
done
exit $status
