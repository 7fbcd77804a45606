#!/bin/sh
# sketch.sh - the README's live-allocator sketch compiles as a kernel would compile it: the C
# block after the "sketch: compiled by make test" marker, freestanding, -Wall -Wextra -Werror.
set -eu
cd "$(dirname "$0")/.."
src=$(mktemp --suffix=.c)
obj=$(mktemp --suffix=.o)
trap 'rm -f "$src" "$obj"' EXIT
awk '/<!-- sketch: compiled by make test -->/ { want = 1; next }
     want && /^```c/ { copy = 1; next }
     copy && /^```/ { exit }
     copy { print }' README.md >"$src"
[ -s "$src" ] || { echo "README.md has no sketch after its marker"; exit 1; }
gcc -std=c11 -Wall -Wextra -Werror -ffreestanding -fno-pic -mcmodel=kernel -mno-red-zone \
    -Iinclude -c -o "$obj" "$src"
nm "$obj" | grep -q " T take_allocator" || { echo "the sketch defines no take_allocator"; exit 1; }
nm "$obj" | grep -q " d pmm_request" || { echo "the sketch has no pmm_request in .data"; exit 1; }
echo "README sketch: $(wc -l <"$src") lines compile freestanding"
