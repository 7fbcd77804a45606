# bootlog.sh - sourced by boot tests after QEMU has run: `boot_log LOG RC WHAT` reads the serial
# log LOG as text (carriage returns and terminal escapes gone) into $text, and defines the two
# helpers they assert with: `has PATTERN` (a line of the log matches) and `fail WHY` (prints WHAT:
# WHY, QEMU's exit status RC and the log without the memory map's lines, and exits 1).
boot_log() {
    text=$(tr -d '\r' <"$1" | sed 's/\x1b\[[0-9;=]*[a-zA-Z]//g')
    boot_rc=$2 boot_what=$3
}
fail() {
    echo "$boot_what: $*"
    echo "---- boot log (exit status $boot_rc) ----"
    echo "$text" | grep -v "^kernel: map:"
    exit 1
}
has() { echo "$text" | grep -q "$1"; }
