#!/bin/sh
# find.sh 2M|4M|4M-secboot|PATH - print "CODE VARS" for Debian's OVMF (package ovmf), never vendored.
set -eu
dir=/usr/share/OVMF
case "${1:-4M}" in
    4M) code=$dir/OVMF_CODE_4M.fd vars=$dir/OVMF_VARS_4M.fd ;;
    2M) code=$dir/OVMF_CODE.fd vars=$dir/OVMF_VARS.fd ;;
    4M-snakeoil) code=$dir/OVMF_CODE_4M.snakeoil.fd vars=$dir/OVMF_VARS_4M.snakeoil.fd ;;
    *) code=$1 vars=${2:-$dir/OVMF_VARS_4M.fd} ;;
esac
for f in "$code" "$vars"; do
    [ -r "$f" ] || { echo "ovmf: $f not found (install Debian's ovmf package)" >&2; exit 1; }
done
echo "$code $vars"
