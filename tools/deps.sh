#!/bin/sh
# deps.sh PKG... - install the Debian packages among PKG that are missing.
# As root it runs apt-get itself; otherwise through sudo; otherwise it stops and prints the command.
set -eu
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing missing Debian packages:$missing"
if [ "$(id -u)" = 0 ]; then
    run=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    run="sudo"
else
    echo "deps: not root and no password-less sudo; run this, then try again:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$run apt-get update -q >/dev/null || true
# shellcheck disable=SC2086
$run apt-get install -y -q --no-install-recommends $missing >/dev/null
