#!/bin/sh
# sign.sh KEY CERT LIMINE_CONF IN.efi OUT.efi - enroll LIMINE_CONF's BLAKE2b-512 into the loader
# (or shell command) IN.efi, over the placeholder unsigned builds carry (efi/secure.c), then sign
# the result with sbsign. With Secure Boot on, the signed loader boots only that configuration,
# and only files whose hashes it names (tools/limine-conf.py --hash writes them). KEY is an
# unencrypted PEM private key, CERT its certificate (PEM).
set -eu
key=$1 cert=$2 conf=$3 in=$4 out=$5
python3 - "$in" "$out.unsigned" "$conf" <<'PY'
import hashlib, sys
src, dst, conf = sys.argv[1:4]
data = open(src, "rb").read()
marker = (b"uefi-pmm:limine.conf-blake2b:unsigned-build:no-configuration-enrolled-in-this-loader-"
          b"placeholder:tools/sign.sh-writes-here:")
marker += b"." * (128 - len(marker))
digest = hashlib.blake2b(open(conf, "rb").read()).hexdigest().encode()
assert len(marker) == 128 and len(digest) == 128
if data.count(marker) != 1:
    sys.exit(f"sign.sh: {src} holds the configuration placeholder {data.count(marker)} times, want 1")
open(dst, "wb").write(data.replace(marker, digest))
PY
sbsign --key "$key" --cert "$cert" --output "$out" "$out.unsigned" >/dev/null
rm -f "$out.unsigned"
