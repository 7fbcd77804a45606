#!/bin/sh
# style.sh - every C file and header follows .clang-format.
set -u
cd "$(dirname "$0")/.."
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build/*'); do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || { echo "not formatted: $f (make format)"; bad=1; }
done
[ $bad = 0 ] && echo "all C sources match .clang-format"
exit $bad
