#!/bin/sh
# run.sh host|all - run the test suites and end with one line "N passed, N failed".
#
#   host: unit tests (plain and under ASan+UBSan; test_smp under TSan too), real PCs' maps, the
#         randomized differential test
#   all:  host, then the QEMU boot tests (tests/qemu/*.sh) when the boot path is built
#
# Each test is one program run; its output is shown only when it fails.
set -u
cd "$(dirname "$0")/.."
what=${1:-all}
MAPS=${MAPS:-tests/memmaps}
pass=0 fail=0 skip=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Every test runs under a timeout, a few times its normal length (T=seconds before `run` sets
# another; 300 by default, which no single test here comes near), and a test that hangs is
# reported as a failure by name instead of holding the suite until CI's limit.
run() { # name command...
    name=$1
    shift
    limit=${T:-300}
    t0=$(date +%s)
    timeout -k 10 "$limit" "$@" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - t0))
    if [ "$rc" = 0 ]; then
        pass=$((pass + 1))
        printf 'ok    %s  (%s) %ss\n' "$name" "$(tail -n 1 "$log")" "$secs"
    else
        fail=$((fail + 1))
        if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
            printf 'FAIL  %s  (timed out after %s s)\n' "$name" "$limit"
        else
            printf 'FAIL  %s\n' "$name"
        fi
        sed 's/^/      | /' "$log" | tail -n 200
    fi
}

run "style (.clang-format)" tests/style.sh
run "static rules (ExitBootServices loop, after exit, watchdog)" tests/static.sh
run "the README's live-allocator sketch compiles" tests/sketch.sh
# Every host test (tests/host/test_*.c), plain and under ASan+UBSan: adding a test is adding a
# file. The few that take arguments or run at other sizes are run by name below.
for src in tests/host/test_*.c; do
    t=$(basename "$src" .c)
    case $t in
    test_blake2b | test_handoff | test_pe | test_random | test_realmaps | test_smp) continue ;;
    esac
    run "$t" "build/host/$t"
    run "$t (asan+ubsan)" "build/asan/$t"
done
# The allocator from many threads at once, with no lock (tests/host/test_smp.c): more threads
# than this machine has cores; then under ThreadSanitizer, which must report nothing (it exits 66
# if it does): the test's own bookkeeping gives it no happens-before edge, so a missing acquire or
# release in pmm/ shows as a race on a page's words.
run "test_smp: 4 CPUs" build/host/test_smp 4 40000
run "test_smp: 8 CPUs on 2 cores" build/host/test_smp 8 20000
run "test_smp (asan+ubsan): 4 CPUs" build/asan/test_smp 4 8000 64
run "test_smp (tsan): 8 CPUs" build/tsan/test_smp 8 3000 64
run "test_smp (tsan): 16 CPUs" build/tsan/test_smp 16 1500 64
run "test_handoff" build/host/test_handoff build/kernel.elf
run "test_handoff (asan+ubsan)" build/asan/test_handoff build/kernel.elf
# BLAKE2b (efi/limine/blake2b.c): every length to 300 and a few large ones, each with a 64-byte
# digest and one other size, against Python's hashlib.
b2_args=$(python3 -c '
import hashlib
sizes = [32, 1, 20, 48, 63, 17]
for n in list(range(0, 301)) + [1000, 4096, 1 << 20]:
    m = bytes((i * 31 + n) & 255 for i in range(n))
    for o in (64, sizes[n % len(sizes)]):
        print(f"{n}:{o}={hashlib.blake2b(m, digest_size=o).hexdigest()}")')
# shellcheck disable=SC2086
run "test_blake2b (against hashlib)" build/host/test_blake2b $b2_args
# shellcheck disable=SC2086
run "test_blake2b (asan+ubsan)" build/asan/test_blake2b $b2_args
T=120 run "test_random 1000000 ops" build/host/test_random 1000000
T=180 run "test_random 300000 ops (asan+ubsan)" build/asan/test_random 300000 7

# The real PCs' maps live in the repo (tests/memmaps, with their sources): none found is a failure.
nmaps=0
for f in "$MAPS"/*.txt; do
    [ -f "$f" ] || continue
    nmaps=$((nmaps + 1))
    expect=$(python3 tests/memmaps_expect.py "$f") || { fail=$((fail + 1)); echo "FAIL  expect $f"; continue; }
    # shellcheck disable=SC2086
    run "real map $(basename "$f")" build/host/test_realmaps "$f" $expect
    # shellcheck disable=SC2086
    run "real map $(basename "$f") (asan+ubsan)" build/asan/test_realmaps "$f" $expect
done
if [ "$nmaps" -eq 0 ]; then
    fail=$((fail + 1))
    echo "FAIL  real PCs' maps: none in $MAPS"
fi

run "pmmsim: real maps, a 12 TiB server, malformed input" tests/pmmsim.sh
# Every libFuzzer target (tests/fuzz/fuzz_*.c) for 2 s from its committed corpus; `make fuzz` runs longer.
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    run "fuzz smoke: ${name#fuzz_}" tests/fuzz/run.sh smoke 2 "${name#fuzz_}"
done

if [ "$what" = all ]; then
    # shellcheck disable=SC2034
    grep -v '^#' tests/qemu/matrix | while read -r mem smp machine fw; do
        echo "$mem $smp $machine $fw"
    done >"$log.matrix"
    while read -r mem smp machine fw; do
        run "qemu boot $mem smp=$smp $machine OVMF-$fw" tests/qemu/boot.sh "$mem" "$smp" "$machine" "$fw"
    done <"$log.matrix"
    rm -f "$log.matrix"
    CPU_SOURCE=madt run "qemu boot, CPUs from the ACPI MADT (a loader without MP services), 4 CPUs pc" \
        tests/qemu/boot.sh 1G 4 pc 4M build/esp-nomp.img
    grep -v '^#' tests/qemu/smpmatrix >"$log.matrix"
    while read -r machine smp mem; do
        run "qemu smp=$smp $machine $mem: every CPU started, all in the self-test at once" \
            tests/qemu/smp.sh "$machine" "$smp" "$mem"
    done <"$log.matrix"
    rm -f "$log.matrix"
    run "CPUs that never come up are reported by APIC ID; the run goes on without them" \
        tests/qemu/smpmissing.sh
    run "CPU topology from MP services' extended location: 2 packages x 2 cores x 2 threads" \
        tests/qemu/topology.sh
    # NUMA machines (tests/qemu/numa.py): what the kernel receives against QEMU's -numa options
    run "qemu NUMA, 2 nodes, 4 vCPUs: ranges (one hot-pluggable), distances, each CPU's node" \
        tests/qemu/numa.py two
    run "qemu NUMA, 4 nodes, 4 vCPUs: one node without CPUs, one without memory" \
        tests/qemu/numa.py four
    run "qemu NUMA: a SLIT with 11 on its diagonal is refused by name; distances 10 and 20" \
        tests/qemu/numa.py badslit
    run "qemu NUMA: an SRAT with a short entry is refused by name; one node" \
        tests/qemu/numa.py badsrat
    run "EFI binaries are NX-compatible (4 KiB sections, no W+X, NX_COMPAT)" \
        build/host/test_pe build/BOOTX64.EFI build/pmmcmd.efi build/pmm.efi
    run "qemu boot of the GPT image as a USB stick, q35 OVMF-4M" tests/qemu/boot.sh 512M 1 q35 4M build/usb.img usb
    run "qemu boot of the GPT image as a USB stick, pc OVMF-2M" tests/qemu/boot.sh 2G 2 pc 2M build/usb.img usb
    run "Secure Boot: the signed image boots, limine.conf and every file checked" \
        tests/qemu/boot.sh 512M 1 q35 4M-snakeoil build/usb-snakeoil.img usb
    RUN_OPTS="--fw 4M-snakeoil --usb" run "Secure Boot: the firmware refuses the unsigned loader" \
        tests/qemu/refuse.sh build/usb.img "Boot0001.*Access Denied" "loader:"
    RUN_OPTS="--fw 4M-snakeoil --usb" run "Secure Boot: the signed loader refuses a tampered kernel" \
        tests/qemu/refuse.sh build/usb-snakeoil-tampered.img \
        "/EFI/pmm/kernel.elf rejected: its BLAKE2b hash differs"
    RUN_OPTS="--fw 4M-snakeoil --usb" run "Secure Boot: the signed loader refuses a tampered module" \
        tests/qemu/refuse.sh build/usb-snakeoil-tamperedmod.img \
        "/EFI/pmm/pmm.man rejected: its BLAKE2b hash differs"
    RUN_OPTS="--fw 4M-snakeoil --usb" run "Secure Boot: the signed loader refuses a changed limine.conf" \
        tests/qemu/refuse.sh build/usb-snakeoil-tamperedconf.img \
        "not the one enrolled in the signed loader"
    RUN_OPTS="--fw 4M-snakeoil --usb" run "Secure Boot: a loader signed without an enrolled limine.conf refuses" \
        tests/qemu/refuse.sh build/usb-plainsigned.img \
        "Secure Boot is on, but this loader has no configuration hash enrolled"
    run "framebuffer console: screendump shows the verdict" tests/qemu/screen.sh
    # paging modes (tests/qemu/la57.sh): Debian's OVMF runs 4-level, so every 5-level boot switched
    run "5-level paging: -cpu max,+la57, the loader switches at the jump, the kernel runs it" \
        tests/qemu/la57.sh 5level
    run "4-level paging: -cpu max,-la57, loader and kernel" tests/qemu/la57.sh 4level
    run "5-level paging in a 1 TiB guest" tests/qemu/la57.sh 1t
    run "5-level paging with 4 CPUs: the APs start in it, all take part" tests/qemu/la57.sh smp
    run "5-level paging by the kernel's own switch (a loader that ignores the request), 2 CPUs" \
        tests/qemu/la57.sh kernel
    run "limine.conf max_paging_mode: 4level on an LA57 CPU: 4-level, kept by the kernel" \
        tests/qemu/la57.sh conf
    run "a loader in 5-level paging (as under such a firmware) gives the kernel 5-level, 2 CPUs" \
        tests/qemu/la57.sh fw5
    run "... and with max_paging_mode: 4level switches down to 4-level at the jump, 2 CPUs" \
        tests/qemu/la57.sh fw5conf
    run "a PC without a serial port: boots to PASS" tests/qemu/noserial.sh
    run "boot memory held until the kernel releases it" tests/qemu/hold.sh
    T=900 run "pmm shell command (every subcommand, pmm boot; make shell on a tty, make run status)" \
        tests/qemu/shell.sh
    run "make debug: gdb in efi_main and kmain" tests/qemu/debug.sh
    run "kernel reports an exception and fails the run" tests/qemu/fault.sh
    run "W^X: writing to kernel text and executing from the direct map each fault" tests/qemu/wx.sh
    run "ExitBootServices refused for good: message on serial and screen, halted, no return" \
        tests/qemu/exitfail.sh
    run "a refused allocator is on the screen too" tests/qemu/panicscreen.sh
    run "kernel refuses an Executable Address inside the direct map, by field, and fails" \
        tests/qemu/badresponse.sh
    # the loader hands over include/pmm.h's layout; the Makefile built this kernel for the one before
    hv=$(sed -n 's/^#define PMM_ABI_VERSION \([0-9]*\)u.*/\1/p' include/pmm.h)
    run "kernel refuses an allocator state of another layout version" tests/qemu/refuse.sh \
        build/esp-oldkernel.img "layout version $hv, but this kernel reads version $((hv - 1))" \
        "verdict: PASS"
    run "qemu refuses a missing kernel" tests/qemu/refuse.sh build/esp-nokernel.img \
        "file /EFI/pmm/kernel.elf not found"
    run "qemu refuses a truncated kernel" tests/qemu/refuse.sh build/esp-truncated.img \
        "kernel rejected: segment lies outside the kernel file"
    run "qemu refuses a kernel for another machine" tests/qemu/refuse.sh build/esp-badmachine.img \
        "kernel rejected: kernel is not built for x86_64"
    # ---- The Limine-protocol test kernels (tests/limine/, tests/qemu/limine.sh) ----
    # Kernels of our own, written from the specification: each boot checks every response its
    # kernel asked for against what QEMU and the script gave it; then the loader's refusals.
    lt=tests/qemu/limine.sh
    run "limine: full kernel, q35 1 CPU 512M, GPT disk" $lt full 512M 1 q35 gpt
    run "limine: full kernel, q35 2 CPUs 1G" $lt full 1G 2 q35
    run "limine: full kernel, q35 4 CPUs 6G" $lt full 6G 4 q35
    run "limine: full kernel, pc 2 CPUs 2G" $lt full 2G 2 pc
    run "limine: full kernel, pc 4 CPUs 512M" $lt full 512M 4 pc
    run "limine: PIE kernels (RELA, RELR) relocated, KASLR moves them" $lt kaslr
    run "limine: base revision 0 kernel, requests found by scanning" $lt rev0
    run "limine: base revision 0 kernel, requests listed in .limine_reqs" $lt rev0s
    run "limine: a kernel asking for base revision 99" $lt future
    run "limine: plain kernel without the live allocator" $lt plain
    run "limine: refuses a duplicate request" $lt refuse-dup
    run "limine: refuses a kernel below 0xffffffff80000000 that is not PIE" $lt refuse-low
    run "limine: refuses a relocation other than R_X86_64_RELATIVE" $lt refuse-reloc
    run "limine: refuses a missing module, naming its limine.conf line" $lt refuse-module
    run "limine: refuses a malformed limine.conf, naming the line" $lt refuse-conf
    run "limine: refuses when a required internal module is absent" $lt refuse-inmod
    # ---- end of the Limine-protocol test kernels ----
fi

if [ "$skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
