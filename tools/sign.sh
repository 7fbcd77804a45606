#!/bin/sh
# sign.sh KEY CERT KERNEL IN.efi OUT.efi - put KERNEL's SHA-256 into the loader (or shell command)
# IN.efi where the unsigned build has its placeholder (efi/digest.c), then sign the result with
# sbsign. KEY is an unencrypted PEM private key, CERT its certificate (PEM).
set -eu
key=$1 cert=$2 kernel=$3 in=$4 out=$5
digest=$(sha256sum "$kernel" | cut -c1-64)
python3 - "$in" "$out.unsigned" "$digest" <<'PY'
import sys
src, dst, digest = sys.argv[1:4]
data = open(src, "rb").read()
marker = b"uefi-pmm:kernel-sha256:unsigned-build:no-kernel-digest-to-check."
assert len(marker) == 64 and len(digest) == 64
if data.count(marker) != 1:
    sys.exit(f"sign.sh: {src} holds the digest placeholder {data.count(marker)} times, want 1")
open(dst, "wb").write(data.replace(marker, digest.encode()))
PY
sbsign --key "$key" --cert "$cert" --output "$out" "$out.unsigned" >/dev/null
rm -f "$out.unsigned"
